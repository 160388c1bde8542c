// formatSpiffeId remembers the last trust domain it found valid, so a resolver's one trust domain is not
// checked again for every connection. The first call in a process must still check what it is given: this
// file calls it before anything else in its module graph has, with a value that is not a string.
import { expect, it } from 'vitest';
import { formatSpiffeId, InvalidTrustDomainError } from '../src/index.js';

it('the first formatSpiffeId call refuses a trust domain that is not a string, and so does every later one', () => {
  for (let round = 0; round < 2; round++) {
    expect(() => formatSpiffeId(null as unknown as string, 0)).toThrow(InvalidTrustDomainError);
    expect(() => formatSpiffeId(undefined as unknown as string, 0)).toThrow(InvalidTrustDomainError);
    expect(formatSpiffeId('example.org', 0)).toBe('spiffe://example.org/uid-0');
  }
});
