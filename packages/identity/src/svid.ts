// The SPIFFE rules of an X.509-SVID (X509-SVID spec, as go-spiffe's x509svid.Verify applies them): one URI SAN
// that is a SPIFFE ID with a path, a leaf that is not a CA and cannot sign certificates or CRLs, and a path to
// the bundle of the leaf's own trust domain (never to another domain's authority). RFC 5280 path validation
// (signatures, name constraints, critical extensions, path length, validity of every certificate, choosing
// among candidate paths) is NOT done here: it is OpenSSL's, in the TLS handshake that received the chain (see
// the server package's mutual-TLS listener). checkSvidRules is for a chain that OpenSSL has validated.
import { X509Certificate } from 'node:crypto';
import {
  basicConstraintsCa,
  certificateExtensions,
  KEY_USAGE_BITS,
  keyUsageBits,
  OID_BASIC_CONSTRAINTS,
  OID_KEY_USAGE,
} from './der.js';
import { InvalidBundleError, MalformedCertificateError, SvidVerificationError } from './errors.js';
import { quoteValue } from './printable.js';
import { trustDomainProblem } from './spiffe.js';
import { parseSpiffeId, spiffeIdProblem } from './spiffe-id.js';

export interface TrustBundle {
  trustDomain: string;
  authorities: readonly X509Certificate[];
}

/** Bundles by trust domain; a domain missing here is not trusted at all. */
export type TrustBundleSet = ReadonlyMap<string, TrustBundle>;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A trust domain's X.509 bundle from PEM text holding one or more CA certificates (as spiffe-helper writes). */
export function loadBundle(trustDomain: string, pem: string | Buffer): TrustBundle {
  const problem = trustDomainProblem(trustDomain);
  if (problem) throw new InvalidBundleError(trustDomain, `invalid trust domain: ${problem}`);
  const blocks = String(pem).match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new InvalidBundleError(trustDomain, 'no PEM CERTIFICATE block');
  const authorities = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new InvalidBundleError(trustDomain, `certificate ${i + 1} does not parse`, { cause: err });
    }
  });
  return { trustDomain, authorities };
}

/** A TrustBundleSet from bundles; two bundles for one trust domain are a mistake, not a merge. */
export function bundleSet(bundles: Iterable<TrustBundle>): TrustBundleSet {
  const out = new Map<string, TrustBundle>();
  for (const b of bundles) {
    if (out.has(b.trustDomain)) throw new InvalidBundleError(b.trustDomain, 'given twice');
    out.set(b.trustDomain, b);
  }
  return out;
}

export interface VerifiedSvid {
  spiffeId: string;
  trustDomain: string;
  leaf: X509Certificate;
  /** Leaf first, then each issuer up to and including the bundle authority it chained to. */
  chain: X509Certificate[];
}

// A bound on the work one peer can cause; SPIRE chains are a leaf plus a few intermediates.
const MAX_CHAIN_LENGTH = 16;

function asCertificate(c: X509Certificate | Buffer | string, i: number): X509Certificate {
  if (c instanceof X509Certificate) return c;
  try {
    return new X509Certificate(c);
  } catch (err) {
    throw new SvidVerificationError('PEERAUTH_SVID_MALFORMED', `certificate ${i} does not parse`, undefined, {
      cause: err,
    });
  }
}

function extensionsOf(cert: X509Certificate, spiffeId?: string): Map<string, Uint8Array> {
  try {
    return certificateExtensions(cert.raw);
  } catch (err) {
    if (!(err instanceof MalformedCertificateError)) throw err;
    throw new SvidVerificationError(
      'PEERAUTH_SVID_MALFORMED',
      `certificate extensions: ${err.detail}`,
      spiffeId,
      {
        cause: err,
      },
    );
  }
}

/** What a refusal says of a reading error: the reader's own words, without a class name in front. */
function problemOf(err: unknown): string {
  return err instanceof MalformedCertificateError ? err.detail : String(err);
}

// Characters of an unreadable subjectAltName entry a message shows.
const MAX_SHOWN = 64;

// One entry of X509Certificate.subjectAltName: `TYPE:value`, the value a JSON string literal when it holds a
// character that could be read as a separator (Node quotes those since CVE-2021-44532).
const SAN_ENTRY = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/gy;

/** A SAN value OpenSSL's printer quoted (a JSON string literal). */
function quotedSan(value: string): string {
  try {
    return JSON.parse(value) as string;
  } catch {
    throw new MalformedCertificateError(
      `subjectAltName value ${quoteValue(value.slice(0, MAX_SHOWN))} does not parse`,
    );
  }
}

/**
 * The URI SANs of a certificate, from OpenSSL's own reading of the extension: the one SAN reader of the
 * project (the server's own SVID, peers' SVIDs, doctor and bundle checks all read names through it), so a
 * name holding a comma means the same everywhere. Text it cannot read (an entry of a type it does not know,
 * such as X400Name) is a MalformedCertificateError (PEERAUTH_CERTIFICATE_MALFORMED), never a guess.
 */
export function uriSans(cert: X509Certificate): string[] {
  const text = cert.subjectAltName;
  if (text === undefined) return [];
  const uris: string[] = [];
  SAN_ENTRY.lastIndex = 0;
  let consumed = 0;
  for (let m = SAN_ENTRY.exec(text); m !== null && m[0] !== ''; m = SAN_ENTRY.exec(text)) {
    consumed = SAN_ENTRY.lastIndex;
    if (m[1] !== 'URI') continue;
    const value = m[2]!;
    uris.push(value.startsWith('"') ? quotedSan(value) : value);
  }
  if (consumed !== text.length) {
    // An entry of a type the pattern does not know (OpenSSL prints X400Name with a digit): fail rather than
    // skip it, since a misread boundary could hide or invent a URI. Shown quoted and cut short.
    const rest = text.slice(consumed).replace(/^, /, '');
    const shown = quoteValue(rest.length > MAX_SHOWN ? `${rest.slice(0, MAX_SHOWN)}...` : rest);
    throw new MalformedCertificateError(`subjectAltName entry ${shown} does not parse`);
  }
  return uris;
}

/**
 * A certificate's SPIFFE ID as go-spiffe's x509svid.IDFromCert reads it: its one URI SAN, when that is a
 * SPIFFE ID; null when it has no URI SAN, several, one that is not a SPIFFE ID, or a SAN that does not parse.
 * For describing a certificate (the server's own SVID in logs and doctor); a peer's SVID goes through
 * checkSvidLeaf, which refuses the same certificates with the reason.
 */
export function certificateSpiffeId(cert: X509Certificate): string | null {
  let uris: string[];
  try {
    uris = uriSans(cert);
  } catch (err) {
    if (err instanceof MalformedCertificateError) return null;
    throw err;
  }
  return uris.length === 1 && spiffeIdProblem(uris[0]!) === null ? uris[0]! : null;
}

function leafSpiffeId(leaf: X509Certificate): string {
  let uris: string[];
  try {
    uris = uriSans(leaf);
  } catch (err) {
    throw new SvidVerificationError('PEERAUTH_SVID_MALFORMED', problemOf(err), undefined, {
      cause: err,
    });
  }
  if (uris.length === 0)
    throw new SvidVerificationError('PEERAUTH_SVID_NO_URI_SAN', 'the leaf has no URI SAN');
  if (uris.length > 1) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_MULTIPLE_URI_SANS',
      `the leaf has ${uris.length} URI SANs (${uris.map((u) => JSON.stringify(u)).join(', ')}); an SVID has exactly one`,
    );
  }
  const uri = uris[0]!;
  const problem = spiffeIdProblem(uri);
  if (problem) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_NOT_SPIFFE_ID',
      `URI SAN ${JSON.stringify(uri)}: ${problem}`,
    );
  }
  // The X509-SVID spec: a leaf's ID names a workload; the bare trust-domain ID is a validator's MUST-refuse.
  if (parseSpiffeId(uri).path === '') {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_NO_PATH',
      `URI SAN ${JSON.stringify(uri)} has no path; a leaf SVID names a workload in its trust domain`,
      uri,
    );
  }
  return uri;
}

function checkDates(cert: X509Certificate, what: string, now: Date, spiffeId: string): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (Number.isNaN(from) || Number.isNaN(to)) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_MALFORMED',
      `${what} has unreadable validity dates`,
      spiffeId,
    );
  }
  if (now.getTime() < from) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_NOT_YET_VALID',
      `${what} is not valid before ${cert.validFrom}`,
      spiffeId,
    );
  }
  if (now.getTime() > to) {
    throw new SvidVerificationError('PEERAUTH_SVID_EXPIRED', `${what} expired ${cert.validTo}`, spiffeId);
  }
}

/**
 * basicConstraints cA, read from the DER: X509Certificate.ca is OpenSSL's X509_check_ca, which also says
 * false for a cA=true certificate whose keyUsage lacks keyCertSign, so it cannot tell a leaf is a CA.
 */
function isCa(cert: X509Certificate, spiffeId: string): boolean {
  const bc = extensionsOf(cert, spiffeId).get(OID_BASIC_CONSTRAINTS);
  try {
    return bc !== undefined && basicConstraintsCa(bc);
  } catch (err) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_MALFORMED',
      `basicConstraints: ${problemOf(err)}`,
      spiffeId,
      {
        cause: err,
      },
    );
  }
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  // checkIssued compares names (and key identifiers); verify proves the signature.
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

export interface SvidLeaf {
  spiffeId: string;
  trustDomain: string;
  leaf: X509Certificate;
}

/**
 * The SPIFFE rules that read the leaf alone (its ID, that it is not a CA, its keyUsage) and that its trust
 * domain has a bundle in `bundles`. No signature is checked: a peer no bundle vouches for is refused here
 * at the cost of parsing one certificate.
 */
export function checkSvidLeaf(
  leafCert: X509Certificate | Buffer | string,
  bundles: TrustBundleSet,
): SvidLeaf {
  const leaf = asCertificate(leafCert, 0);
  const extensions = extensionsOf(leaf);
  const spiffeId = leafSpiffeId(leaf);
  const { trustDomain } = parseSpiffeId(spiffeId);
  if (isCa(leaf, spiffeId))
    throw new SvidVerificationError(
      'PEERAUTH_SVID_LEAF_IS_CA',
      'the leaf is a CA (basicConstraints cA=true)',
      spiffeId,
    );
  const ku = extensions.get(OID_KEY_USAGE);
  if (ku) {
    let bits: Set<number>;
    try {
      bits = keyUsageBits(ku);
    } catch (err) {
      throw new SvidVerificationError('PEERAUTH_SVID_MALFORMED', `keyUsage: ${problemOf(err)}`, spiffeId, {
        cause: err,
      });
    }
    if (bits.has(KEY_USAGE_BITS.keyCertSign)) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_LEAF_KEY_USAGE',
        'the leaf has keyUsage keyCertSign',
        spiffeId,
      );
    }
    if (bits.has(KEY_USAGE_BITS.cRLSign)) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_LEAF_KEY_USAGE',
        'the leaf has keyUsage cRLSign',
        spiffeId,
      );
    }
  }
  if (!bundles.has(trustDomain)) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_UNTRUSTED_DOMAIN',
      `no bundle for trust domain ${JSON.stringify(trustDomain)}`,
      spiffeId,
    );
  }
  return { spiffeId, trustDomain, leaf };
}

function describe(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/**
 * The SPIFFE rules on a chain whose RFC 5280 path OpenSSL has already validated (for example in the TLS
 * handshake that received it, against every configured bundle): checkSvidLeaf, then the chain as given (leaf
 * first, each next certificate its issuer, as Node's getPeerCertificate(true) links them) must reach an
 * authority of the leaf's own trust domain with every link signed, and no authority of another domain may be
 * an issuer of any certificate on it, so the path OpenSSL validated cannot have ended at another domain's
 * authority. It does not validate the path itself: used alone on a chain no TLS stack validated, it misses
 * name constraints, critical extensions, path length and the other RFC 5280 rules.
 */
export function checkSvidRules(
  chain: ReadonlyArray<X509Certificate | Buffer | string>,
  bundles: TrustBundleSet,
  now: Date = new Date(),
): VerifiedSvid {
  if (chain.length === 0)
    throw new SvidVerificationError('PEERAUTH_SVID_EMPTY_CHAIN', 'the peer sent no certificate');
  if (chain.length > MAX_CHAIN_LENGTH) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_CHAIN_UNVERIFIED',
      `chain of ${chain.length} certificates is too long`,
    );
  }
  const certs = chain.map(asCertificate);
  const { spiffeId, trustDomain, leaf } = checkSvidLeaf(certs[0]!, bundles);
  const own = bundles.get(trustDomain)!.authorities;
  const isOwn = (c: X509Certificate) => own.some((a) => a.raw.equals(c.raw));
  const foreign: X509Certificate[] = [];
  for (const [td, bundle] of bundles) {
    if (td === trustDomain) continue;
    for (const a of bundle.authorities) if (!isOwn(a)) foreign.push(a);
  }
  checkDates(leaf, 'the leaf', now, spiffeId);
  const path = [leaf];
  for (let current = leaf; ; ) {
    const other = foreign.find((a) => current.checkIssued(a));
    if (other) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_CHAIN_UNVERIFIED',
        `${current === leaf ? 'the leaf' : `intermediate ${describe(current)}`} names an authority of another trust domain (${describe(other)}) as a possible issuer`,
        spiffeId,
      );
    }
    const root = own.find((a) => issued(a, current));
    if (root) {
      // Without partial-chain trust OpenSSL goes on from an authority that is not self-issued, to its issuer.
      const above = root.checkIssued(root) ? undefined : foreign.find((a) => root.checkIssued(a));
      if (above) {
        throw new SvidVerificationError(
          'PEERAUTH_SVID_CHAIN_UNVERIFIED',
          `bundle authority ${describe(root)} names an authority of another trust domain (${describe(above)}) as a possible issuer`,
          spiffeId,
        );
      }
      checkDates(root, `bundle authority ${describe(root)}`, now, spiffeId);
      path.push(root);
      return { spiffeId, trustDomain, leaf, chain: path };
    }
    const next = certs[path.length];
    if (next === undefined || !issued(next, current)) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_CHAIN_UNVERIFIED',
        `no certificate in the bundle of ${JSON.stringify(trustDomain)} or the peer's chain signed ${current === leaf ? 'the leaf' : 'an intermediate'}`,
        spiffeId,
      );
    }
    if (!isCa(next, spiffeId) || !next.ca) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_INTERMEDIATE_NOT_CA',
        `intermediate ${describe(next)} is not a CA`,
        spiffeId,
      );
    }
    checkDates(next, `intermediate ${describe(next)}`, now, spiffeId);
    path.push(next);
    current = next;
  }
}
