// One trust-domain rule: a trust domain given alone (config, bundles, formatSpiffeId) and one read from a SPIFFE
// ID (certificates) are held to the same characters and the same 255 bytes (SPIFFE-ID 2.3).
import { describe, expect, it } from 'vitest';
import { parseSpiffeId, spiffeIdProblem, trustDomainProblem } from '../src/index.js';
import { MAX_TRUST_DOMAIN_BYTES } from '../src/spiffe.js';

describe('one trust-domain rule', () => {
  const longest = `${'a'.repeat(MAX_TRUST_DOMAIN_BYTES - 5)}.test`;
  const tooLong = `a${longest}`;

  it('a 256-byte trust domain is refused alone and inside a SPIFFE ID', () => {
    expect(Buffer.byteLength(tooLong)).toBe(MAX_TRUST_DOMAIN_BYTES + 1);
    expect(trustDomainProblem(tooLong)).toMatch(/at most 255 bytes/);
    expect(spiffeIdProblem(`spiffe://${tooLong}/workload`)).toMatch(/longer than 255 bytes/);
    expect(() => parseSpiffeId(`spiffe://${tooLong}`)).toThrow(/trust domain is longer than 255 bytes/);
  });

  it('a 255-byte trust domain is accepted alone and inside a SPIFFE ID', () => {
    expect(trustDomainProblem(longest)).toBeNull();
    expect(parseSpiffeId(`spiffe://${longest}/workload`).trustDomain).toBe(longest);
  });

  it('both refuse the same characters', () => {
    for (const td of ['Example.org', 'a.test:443', 'user@a.test', 'a test']) {
      expect(trustDomainProblem(td), td).not.toBeNull();
      expect(spiffeIdProblem(`spiffe://${td}/x`), td).not.toBeNull();
    }
  });
});
