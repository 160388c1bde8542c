import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeExecutableSegment,
  encodeExecutableSegment,
  formatSpiffeId,
  InvalidTrustDomainError,
  InvalidUidError,
  MAX_EXECUTABLE_SEGMENT_BYTES,
} from '../src/index.js';
import { wtf8Bytes } from '../src/spiffe.js';
import { spiffeIdProblem } from './spiffe-validator.js';

const MAX_UID = 2 ** 32 - 1;
// 'binary' units cover every code point and also lone surrogates, which JS strings can hold.
const anyName = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('.', '_', '%', '/', ' ', 'a', '5', '-') }),
  fc.string({ unit: 'binary', minLength: 300, maxLength: 1500 }),
);
const anyUid = fc.integer({ min: 0, max: MAX_UID });

describe('the independent validator', () => {
  it('accepts and rejects what the spec says', () => {
    expect(spiffeIdProblem('spiffe://example.org/uid-1/app')).toBeNull();
    expect(spiffeIdProblem('spiffe://example.org')).toBeNull();
    expect(spiffeIdProblem('spiffe://Example.org/x')).not.toBeNull();
    expect(spiffeIdProblem('spiffe://example.org/a/../b')).not.toBeNull();
    expect(spiffeIdProblem('spiffe://example.org/a/./b')).not.toBeNull();
    expect(spiffeIdProblem('spiffe://example.org/a//b')).not.toBeNull();
    expect(spiffeIdProblem('spiffe://example.org/a/')).not.toBeNull();
    expect(spiffeIdProblem('spiffe://example.org/a b')).not.toBeNull();
    expect(spiffeIdProblem('spiffe://example.org/%41')).not.toBeNull();
    expect(spiffeIdProblem(`spiffe://example.org/${'a'.repeat(2048)}`)).not.toBeNull();
    expect(spiffeIdProblem('https://example.org/a')).not.toBeNull();
  });
});

describe('formatSpiffeId', () => {
  it('builds spiffe://<td>/uid-<uid>/<name> and omits the segment for an unknown executable', () => {
    expect(formatSpiffeId('example.org', 1000, 'node')).toBe('spiffe://example.org/uid-1000/node');
    expect(formatSpiffeId('example.org', 1000)).toBe('spiffe://example.org/uid-1000');
    expect(formatSpiffeId('peerauth.local', 0, 'python3.12')).toBe(
      'spiffe://peerauth.local/uid-0/python3.12',
    );
  });

  it('escapes every byte outside [A-Za-z0-9.-] as _XX, including _ itself', () => {
    expect(encodeExecutableSegment('my app')).toBe('my_20app');
    expect(encodeExecutableSegment('a_b')).toBe('a_5Fb');
    expect(encodeExecutableSegment('100%')).toBe('100_25');
    expect(encodeExecutableSegment('é')).toBe('_C3_A9');
    expect(encodeExecutableSegment('😀')).toBe('_F0_9F_98_80');
    expect(encodeExecutableSegment('a/b')).toBe('a_2Fb');
  });

  it('never produces the segments "." or ".." and encodes the empty name as "_"', () => {
    expect(encodeExecutableSegment('.')).toBe('_2E');
    expect(encodeExecutableSegment('..')).toBe('_2E_2E');
    expect(encodeExecutableSegment('...')).toBe('_2E_2E_2E');
    expect(encodeExecutableSegment('.bashrc')).toBe('.bashrc');
    expect(encodeExecutableSegment('')).toBe('_');
    expect(formatSpiffeId('example.org', 1, '')).toBe('spiffe://example.org/uid-1/_');
  });

  it('keeps lone surrogates apart from U+FFFD (WTF-8, not lossy UTF-8)', () => {
    expect(encodeExecutableSegment('\uD800')).toBe('_ED_A0_80');
    expect(encodeExecutableSegment('\uFFFD')).toBe('_EF_BF_BD');
    expect(encodeExecutableSegment('\uDC00\uD800')).not.toBe(encodeExecutableSegment('\uD800\uDC00'));
  });

  it('shortens overlong names to a prefix, "__" and the SHA-256 of the name', () => {
    const long = 'x'.repeat(5000);
    const segment = encodeExecutableSegment(long);
    expect(segment).toMatch(/^x+__[0-9a-f]{64}$/);
    expect(segment.length).toBeLessThanOrEqual(MAX_EXECUTABLE_SEGMENT_BYTES);
    expect(decodeExecutableSegment(segment)).toBeNull();
    // Same 5000-char prefix, different tail: different hash.
    expect(encodeExecutableSegment(`${long}y`)).not.toBe(segment);
    // Exactly at the limit stays plain; one byte over is hashed.
    expect(encodeExecutableSegment('a'.repeat(MAX_EXECUTABLE_SEGMENT_BYTES))).toBe('a'.repeat(1024));
    expect(encodeExecutableSegment('a'.repeat(MAX_EXECUTABLE_SEGMENT_BYTES + 1))).toContain('__');
  });

  it('cuts the prefix of a shortened name between escapes, never inside one', () => {
    const segment = encodeExecutableSegment('é'.repeat(1000));
    expect(segment).toMatch(/^(_C3_A9)+__[0-9a-f]{64}$/);
  });

  it('fits the longest trust domain, the largest uid and the longest segment in 2048 bytes', () => {
    const td = 'a'.repeat(255);
    const id = formatSpiffeId(td, MAX_UID, '\u{10FFFF}'.repeat(4000));
    expect(spiffeIdProblem(id)).toBeNull();
  });

  it('throws InvalidTrustDomainError for a trust domain the spec forbids', () => {
    for (const td of [
      '',
      'Example.org',
      'example.org:8080',
      'spiffe://example.org',
      'exa mple',
      'a'.repeat(256),
      'ex/ample',
    ]) {
      expect(() => formatSpiffeId(td, 1), td).toThrow(InvalidTrustDomainError);
    }
    try {
      formatSpiffeId('Example.org', 1);
    } catch (err) {
      expect((err as InvalidTrustDomainError).code).toBe('PEERAUTH_INVALID_TRUST_DOMAIN');
      expect((err as Error).message).toContain('"Example.org"');
    }
  });

  it('throws InvalidUidError for a uid outside 0..2^32-1', () => {
    for (const uid of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => formatSpiffeId('example.org', uid)).toThrow(InvalidUidError);
    }
  });
});

describe('SPIFFE properties', () => {
  it('every ID is valid per the spec', () => {
    fc.assert(
      fc.property(anyUid, anyName, (uid, name) => {
        const id = formatSpiffeId('example.org', uid, name);
        expect(spiffeIdProblem(id)).toBeNull();
        expect(id.startsWith(`spiffe://example.org/uid-${uid}/`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('distinct names give distinct IDs', () => {
    fc.assert(
      fc.property(
        anyUid,
        anyName,
        anyName,
        (uid, a, b) =>
          a === b || formatSpiffeId('example.org', uid, a) !== formatSpiffeId('example.org', uid, b),
      ),
      { numRuns: 2000 },
    );
  });

  it('distinct names sharing a long prefix give distinct IDs', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const prefix = 'p'.repeat(1100);
        return a === b || formatSpiffeId('x', 1, prefix + a) !== formatSpiffeId('x', 1, prefix + b);
      }),
    );
  });

  it('unshortened segments decode back to the name (so the encoding is injective)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (name) => {
        const decoded = decodeExecutableSegment(encodeExecutableSegment(name));
        expect(decoded).not.toBeNull();
        expect(Buffer.from(decoded!).toString('utf8')).toBe(name);
      }),
      { numRuns: 1000 },
    );
  });

  it('every segment of any name decodes to its WTF-8 bytes, or is shortened', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const segment = encodeExecutableSegment(name);
        const decoded = decodeExecutableSegment(segment);
        if (decoded === null) expect(segment).toMatch(/__[0-9a-f]{64}$/);
        else expect(Buffer.from(decoded).equals(Buffer.from(wtf8Bytes(name)))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('decoding rejects what the encoder never produces', () => {
    expect(decodeExecutableSegment('a_4')).toBeNull();
    expect(decodeExecutableSegment('a_zz')).toBeNull();
    expect(decodeExecutableSegment('a_2e')).toBeNull();
    expect(decodeExecutableSegment('a b')).toBeNull();
    expect(decodeExecutableSegment('_41')).toBeNull();
    expect(decodeExecutableSegment('.')).toBeNull();
    expect(decodeExecutableSegment('..')).toBeNull();
    expect(decodeExecutableSegment('')).toBeNull();
    expect(decodeExecutableSegment('_2E')).toEqual(Uint8Array.of(0x2e));
    expect(decodeExecutableSegment('a_2E')).toBeNull();
    expect(decodeExecutableSegment('_')).toEqual(new Uint8Array(0));
  });
});
