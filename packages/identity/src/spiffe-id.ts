// Parsing SPIFFE IDs from outside (certificates, config), per the SPIFFE-ID spec as go-spiffe's spiffeid.FromString.
import { InvalidSpiffeIdError } from './errors.js';
import { MAX_SPIFFE_ID_BYTES, MAX_TRUST_DOMAIN_BYTES, trustDomainFault } from './spiffe.js';

export interface SpiffeId {
  id: string;
  trustDomain: string;
  /** `""` or `/seg/seg`. */
  path: string;
}

const SCHEME = 'spiffe://';
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Why `value` is not a SPIFFE ID, or null when it is one. */
export function spiffeIdProblem(value: string): string | null {
  if (!value.startsWith(SCHEME)) return 'must start with "spiffe://" (lowercase)';
  if (Buffer.byteLength(value) > MAX_SPIFFE_ID_BYTES) return `longer than ${MAX_SPIFFE_ID_BYTES} bytes`;
  const rest = value.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  switch (trustDomainFault(trustDomain)) {
    case 'empty':
      return 'the trust domain is empty';
    case 'too-long':
      return `the trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`;
    case 'characters':
      return 'the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (no port, user or query)';
  }
  if (slash === -1) return null;
  const segments = rest.slice(slash + 1).split('/');
  for (const s of segments) {
    if (s === '') return 'the path has an empty segment or a trailing slash';
    if (s === '.' || s === '..') return 'the path has a "." or ".." segment';
    if (!SEGMENT.test(s))
      return `path segment ${JSON.stringify(s)} may hold only letters, digits, ".", "-" and "_"`;
  }
  return null;
}

export function parseSpiffeId(value: string): SpiffeId {
  const problem = spiffeIdProblem(value);
  if (problem) throw new InvalidSpiffeIdError(value, problem);
  const rest = value.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  return slash === -1
    ? { id: value, trustDomain: rest, path: '' }
    : { id: value, trustDomain: rest.slice(0, slash), path: rest.slice(slash) };
}
