// SPIFFE IDs for peers: spiffe://<trustDomain>/uid-<uid>[/<executable-name>].
// Executable names are arbitrary strings, SPIFFE path segments are not, so names are encoded
// (see README "SPIFFE IDs"): the encoding is deterministic and injective, and every ID is valid per the spec.
import { createHash } from 'node:crypto';
import { InvalidTrustDomainError, InvalidUidError } from './errors.js';

export const MAX_SPIFFE_ID_BYTES = 2048;
export const MAX_TRUST_DOMAIN_BYTES = 255;
/**
 * Encoded executable segments longer than this are shortened to a prefix plus a hash. The longest prefix
 * is `spiffe://` + 255-byte trust domain + `/uid-4294967295/` = 280 bytes, so 1024 always fits in 2048.
 */
export const MAX_EXECUTABLE_SEGMENT_BYTES = 1024;

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
// Passed through unchanged. `_` is deliberately absent: it is the escape character.
const PLAIN_BYTE = /^[A-Za-z0-9.-]$/;
const HASH_MARK = '__';
const HASH_HEX_LENGTH = 64;

export type TrustDomainFault = 'empty' | 'too-long' | 'characters';

/**
 * The one trust-domain rule, for a trust domain given alone (config, bundles) and one inside a SPIFFE ID
 * alike: SPIFFE-ID 2.1's characters, and 2.3's 255 bytes (RFC 3986's bound on a URI host). Each caller
 * words the fault for its own message.
 */
export function trustDomainFault(name: string): TrustDomainFault | null {
  if (name.length === 0) return 'empty';
  if (Buffer.byteLength(name) > MAX_TRUST_DOMAIN_BYTES) return 'too-long';
  if (!TRUST_DOMAIN_CHARS.test(name)) return 'characters';
  return null;
}

/** Why `trustDomain` is not a valid SPIFFE trust domain, or null when it is. */
export function trustDomainProblem(trustDomain: unknown): string | null {
  if (typeof trustDomain !== 'string') return 'must be a string';
  if (trustDomain.startsWith('spiffe://')) return 'give the bare trust domain, without "spiffe://"';
  switch (trustDomainFault(trustDomain)) {
    case null:
      return null;
    case 'empty':
      return 'must not be empty';
    case 'too-long':
      return `must be at most ${MAX_TRUST_DOMAIN_BYTES} bytes`;
    case 'characters': {
      const hint = trustDomain !== trustDomain.toLowerCase() ? ' (use lowercase)' : '';
      return `only lowercase letters, digits, ".", "-" and "_" are allowed${hint}`;
    }
  }
}

export function assertTrustDomain(trustDomain: string): void {
  const problem = trustDomainProblem(trustDomain);
  if (problem) throw new InvalidTrustDomainError(String(trustDomain), problem);
}

/** The UTF-8 bytes of one code point; a lone surrogate gets its own 3-byte sequence (as WTF-8 does). */
function codePointBytes(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** The code points of `s`, lone surrogates included as themselves. */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    out.push(cp);
  }
  return out;
}

/**
 * UTF-8 bytes of `s`, except that lone surrogates are encoded as their own 3-byte sequences (WTF-8)
 * instead of U+FFFD, so two different JS strings never share a byte sequence.
 */
export function wtf8Bytes(s: string): number[] {
  return codePoints(s).flatMap(codePointBytes);
}

function escapeByte(b: number): string {
  return `_${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Encode an executable name as one SPIFFE path segment:
 * - bytes of [A-Za-z0-9.-] stay as they are; every other byte (including `_`) becomes `_XX` (uppercase hex);
 * - the empty name is `_` (a lone `_` never occurs otherwise, since every `_` starts a 3-char escape);
 * - names made only of dots (`.`, `..`, ...) have every dot escaped, so no segment is `.` or `..`;
 * - encodings longer than MAX_EXECUTABLE_SEGMENT_BYTES become `<prefix>__<sha256 hex of the name's bytes>`
 *   (`__` never occurs in an unshortened encoding).
 */
export function encodeExecutableSegment(name: string): string {
  if (name.length === 0) return '_';
  const points = codePoints(name);
  const allDots = points.every((cp) => cp === 0x2e);
  // One part per code point, so a shortened prefix never splits a character.
  const parts = points.map((cp) => {
    const ch = String.fromCodePoint(cp);
    return !allDots && cp < 0x80 && PLAIN_BYTE.test(ch) ? ch : codePointBytes(cp).map(escapeByte).join('');
  });
  const encoded = parts.join('');
  if (encoded.length <= MAX_EXECUTABLE_SEGMENT_BYTES) return encoded;
  const budget = MAX_EXECUTABLE_SEGMENT_BYTES - HASH_MARK.length - HASH_HEX_LENGTH;
  let prefix = '';
  // Cut between characters, never inside one, so the prefix still decodes to a prefix of the name.
  for (const part of parts) {
    if (prefix.length + part.length > budget) break;
    prefix += part;
  }
  const digest = createHash('sha256')
    .update(Uint8Array.from(wtf8Bytes(name)))
    .digest('hex');
  return `${prefix}${HASH_MARK}${digest}`;
}

/**
 * Inverse of encodeExecutableSegment for unshortened segments: the name's WTF-8 bytes (see wtf8Bytes;
 * `Buffer.from(bytes).toString('utf8')` displays them). Null for a shortened (hashed) segment and for
 * anything the encoder never produces, such as `_41` for `A` or a literal `.` segment.
 */
export function decodeExecutableSegment(segment: string): Uint8Array | null {
  if (segment === '_') return new Uint8Array(0);
  if (segment === '' || segment.includes(HASH_MARK)) return null;
  const tokens: { byte: number; escaped: boolean }[] = [];
  for (let i = 0; i < segment.length; ) {
    const ch = segment[i]!;
    if (ch === '_') {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      tokens.push({ byte: Number.parseInt(hex, 16), escaped: true });
      i += 3;
    } else if (PLAIN_BYTE.test(ch)) {
      tokens.push({ byte: ch.charCodeAt(0), escaped: false });
      i += 1;
    } else {
      return null;
    }
  }
  const allDots = tokens.every((t) => t.byte === 0x2e);
  // Canonical form only: a byte is escaped exactly when the encoder would escape it.
  for (const { byte, escaped } of tokens) {
    const plain = !allDots && byte < 0x80 && PLAIN_BYTE.test(String.fromCharCode(byte));
    if (plain === escaped) return null;
  }
  return Uint8Array.from(tokens, (t) => t.byte);
}

function assertUid(uid: number): void {
  if (!Number.isInteger(uid) || uid < 0 || uid > 0xffffffff) throw new InvalidUidError(uid);
}

/**
 * `spiffe://<trustDomain>/uid-<uid>/<encoded executable name>`, or without the last segment when the
 * executable is unknown (undefined). Throws InvalidTrustDomainError / InvalidUidError.
 */
// The last trust domain formatSpiffeId found valid: a resolver formats an ID with its one trust domain for
// every connection, and a string equal to a valid one is valid. Only a string is ever compared with it: before
// the first valid call it is null, and a null given by a caller must still be refused.
let validTrustDomain: string | null = null;

export function formatSpiffeId(trustDomain: string, uid: number, executableName?: string): string {
  if (typeof trustDomain !== 'string' || trustDomain !== validTrustDomain) {
    assertTrustDomain(trustDomain);
    validTrustDomain = trustDomain;
  }
  assertUid(uid);
  const base = `spiffe://${trustDomain}/uid-${uid}`;
  return executableName === undefined ? base : `${base}/${encodeExecutableSegment(executableName)}`;
}

/** The last path component of an executable path: what formatSpiffeId calls the executable name. */
export function executableName(exePath: string): string {
  return exePath.slice(exePath.lastIndexOf('/') + 1);
}
