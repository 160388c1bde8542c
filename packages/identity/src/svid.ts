// X.509-SVID verification per the SPIFFE X509-SVID spec, following go-spiffe's x509svid.Verify: one URI SAN
// that is a SPIFFE ID, a leaf that is not a CA and cannot sign certificates or CRLs, and a chain to the bundle
// of the leaf's own trust domain (never to another domain's authority), every certificate valid at `now`.
import { X509Certificate } from 'node:crypto';
import {
  basicConstraintsCa,
  certificateExtensions,
  DerError,
  KEY_USAGE_BITS,
  keyUsageBits,
  OID_BASIC_CONSTRAINTS,
  OID_KEY_USAGE,
  OID_SUBJECT_ALT_NAME,
  sanUris,
} from './der.js';
import { IdentityError } from './errors.js';
import { trustDomainProblem } from './spiffe.js';
import { parseSpiffeId, spiffeIdProblem } from './spiffe-id.js';

export type SvidErrorCode =
  | 'PEERAUTH_SVID_EMPTY_CHAIN'
  | 'PEERAUTH_SVID_MALFORMED'
  | 'PEERAUTH_SVID_NO_URI_SAN'
  | 'PEERAUTH_SVID_MULTIPLE_URI_SANS'
  | 'PEERAUTH_SVID_NOT_SPIFFE_ID'
  | 'PEERAUTH_SVID_LEAF_IS_CA'
  | 'PEERAUTH_SVID_LEAF_KEY_USAGE'
  | 'PEERAUTH_SVID_NOT_YET_VALID'
  | 'PEERAUTH_SVID_EXPIRED'
  | 'PEERAUTH_SVID_UNTRUSTED_DOMAIN'
  | 'PEERAUTH_SVID_INTERMEDIATE_NOT_CA'
  | 'PEERAUTH_SVID_CHAIN_UNVERIFIED';

/** A peer certificate chain was refused as an X.509-SVID; `code` names the rule that failed. */
export class SvidVerificationError extends IdentityError {
  declare readonly code: SvidErrorCode;
  /** The leaf's SPIFFE ID when it was read before the refusal. */
  readonly spiffeId: string | undefined;

  constructor(code: SvidErrorCode, message: string, spiffeId?: string, options?: ErrorOptions) {
    super(code, `X.509-SVID refused: ${message}`, options);
    this.spiffeId = spiffeId;
  }
}

export class InvalidBundleError extends IdentityError {
  declare readonly code: 'PEERAUTH_INVALID_BUNDLE';
  readonly trustDomain: string;

  constructor(trustDomain: string, reason: string, options?: ErrorOptions) {
    super(
      'PEERAUTH_INVALID_BUNDLE',
      `X.509 bundle for trust domain ${JSON.stringify(trustDomain)}: ${reason}`,
      options,
    );
    this.trustDomain = trustDomain;
  }
}

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
    if (!(err instanceof DerError)) throw err;
    throw new SvidVerificationError(
      'PEERAUTH_SVID_MALFORMED',
      `certificate extensions: ${err.message}`,
      spiffeId,
      {
        cause: err,
      },
    );
  }
}

function leafSpiffeId(extensions: Map<string, Uint8Array>): string {
  const san = extensions.get(OID_SUBJECT_ALT_NAME);
  let uris: string[];
  try {
    uris = san ? sanUris(san) : [];
  } catch (err) {
    throw new SvidVerificationError('PEERAUTH_SVID_MALFORMED', `subjectAltName: ${String(err)}`, undefined, {
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
    throw new SvidVerificationError('PEERAUTH_SVID_MALFORMED', `basicConstraints: ${String(err)}`, spiffeId, {
      cause: err,
    });
  }
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  // checkIssued compares names (and key identifiers); verify proves the signature.
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/**
 * Verify `chain` (leaf first, then any intermediates the peer sent) as an X.509-SVID against the bundle of the
 * leaf's own trust domain in `bundles`. Throws SvidVerificationError naming the first rule that failed.
 */
export function verifySvid(
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
  const leaf = certs[0]!;
  const extensions = extensionsOf(leaf);
  const spiffeId = leafSpiffeId(extensions);
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
      throw new SvidVerificationError('PEERAUTH_SVID_MALFORMED', `keyUsage: ${String(err)}`, spiffeId, {
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

  const bundle = bundles.get(trustDomain);
  if (!bundle) {
    throw new SvidVerificationError(
      'PEERAUTH_SVID_UNTRUSTED_DOMAIN',
      `no bundle for trust domain ${JSON.stringify(trustDomain)}`,
      spiffeId,
    );
  }
  checkDates(leaf, 'the leaf', now, spiffeId);

  const path = [leaf];
  const unused = certs.slice(1);
  let current = leaf;
  for (;;) {
    const root = bundle.authorities.find((a) => issued(a, current));
    if (root) {
      checkDates(root, `bundle authority ${root.subject.replace(/\n/g, ', ')}`, now, spiffeId);
      path.push(root);
      return { spiffeId, trustDomain, leaf, chain: path };
    }
    const at = unused.findIndex((c) => issued(c, current));
    if (at === -1) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_CHAIN_UNVERIFIED',
        `no certificate in the bundle of ${JSON.stringify(trustDomain)} or the peer's chain signed ${current === leaf ? 'the leaf' : 'an intermediate'}`,
        spiffeId,
      );
    }
    const next = unused.splice(at, 1)[0]!;
    if (!isCa(next, spiffeId) || !next.ca) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_INTERMEDIATE_NOT_CA',
        `intermediate ${next.subject.replace(/\n/g, ', ')} is not a CA`,
        spiffeId,
      );
    }
    checkDates(next, `intermediate ${next.subject.replace(/\n/g, ', ')}`, now, spiffeId);
    path.push(next);
    current = next;
  }
}
