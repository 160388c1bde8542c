// From the agent's messages to what a TLS stack uses: an X.509-SVID (chain, key, SPIFFE ID) and one bundle
// per trust domain. A message is taken whole or not at all: one bad SVID or bundle refuses the message, and
// the source keeps what it had.
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { certificatesFromDer } from './der.js';
import { WorkloadApiError } from './errors.js';

export interface X509Svid {
  /** The SVID's SPIFFE ID, e.g. `spiffe://prod.example.org/ns/web/sa/api`. */
  spiffeId: string;
  /** Its trust domain, e.g. `prod.example.org`. */
  trustDomain: string;
  /** The operator's hint telling several SVIDs apart (`internal`, `external`); '' when none. */
  hint: string;
  /** Leaf first, then any intermediates. */
  certificates: readonly X509Certificate[];
  privateKey: KeyObject;
  /** The chain as PEM, leaf first: `cert` for tls.createSecureContext. */
  certificatePem: string;
  /** The key as PKCS#8 PEM: `key` for tls.createSecureContext. */
  privateKeyPem: string;
  /** The leaf's notAfter. */
  expiresAt: Date;
}

/** One trust domain's X.509 authorities (the shape `@peerauth/identity`'s TrustBundle has). */
export interface X509Bundle {
  trustDomain: string;
  authorities: readonly X509Certificate[];
}

/** What the source holds at one moment. */
export interface X509Context {
  /** The SVID in use: the first the agent sent, or the first with the `hint` asked for. */
  svid: X509Svid;
  /** Every SVID the agent sent, in its order. */
  svids: readonly X509Svid[];
  /** Every trust domain's bundle, own and federated, each under its own name, in name order. */
  bundles: ReadonlyMap<string, X509Bundle>;
}

/** The X509SVIDResponse and X509BundlesResponse fields as proto-loader decodes them (bytes as Buffer). */
export interface RawSvid {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}
export interface RawSvidResponse {
  svids: RawSvid[];
  federated_bundles: Record<string, Buffer>;
}
export interface RawBundlesResponse {
  bundles: Record<string, Buffer>;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

function invalid(detail: string, cause?: unknown): WorkloadApiError {
  return new WorkloadApiError(
    'PEERAUTH_WORKLOAD_INVALID_RESPONSE',
    `the Workload API sent ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

/** The trust domain of a SPIFFE ID (`spiffe://td/path`), or null when it is not one. */
export function trustDomainOf(spiffeId: string): string | null {
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(spiffeId);
  if (!m || !TRUST_DOMAIN.test(m[1]!) || m[1]!.length > 255) return null;
  const rest = m[2];
  if (
    rest !== undefined &&
    !rest
      .slice(1)
      .split('/')
      .every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')
  )
    return null;
  return m[1]!;
}

/** A bundle map's key: the spec says a trust domain's SPIFFE ID (`spiffe://td`); a bare name is taken too. */
function bundleKey(key: string): string {
  const td = key.startsWith('spiffe://') ? key.slice('spiffe://'.length) : key;
  if (!TRUST_DOMAIN.test(td) || td.length > 255)
    throw invalid(`a bundle keyed ${JSON.stringify(key)}, not a trust domain`);
  return td;
}

function parseBundle(trustDomain: string, der: Buffer): X509Bundle {
  try {
    return { trustDomain, authorities: certificatesFromDer(der) };
  } catch (err) {
    throw invalid(
      `a bundle for ${JSON.stringify(trustDomain)} that cannot be used: ${(err as Error).message}`,
      err,
    );
  }
}

function uriSans(cert: X509Certificate): string[] {
  // Node writes the SAN as "URI:a, DNS:b" and quotes any entry holding a comma or quote: JSON-style
  // quoting that such an entry can never equal a SPIFFE ID, so comparing against the ID is safe.
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
}

function parseSvid(raw: RawSvid, i: number): X509Svid {
  const id = raw.spiffe_id;
  const trustDomain = trustDomainOf(id);
  if (trustDomain === null)
    throw invalid(`SVID ${i + 1} with spiffe_id ${JSON.stringify(id)}, not a SPIFFE ID`);
  let certificates: X509Certificate[];
  try {
    certificates = certificatesFromDer(raw.x509_svid);
  } catch (err) {
    throw invalid(`an X.509-SVID for ${id} that cannot be used: ${(err as Error).message}`, err);
  }
  const leaf = certificates[0]!;
  const sans = uriSans(leaf);
  if (sans.length !== 1 || sans[0] !== id)
    throw invalid(
      `an X.509-SVID for ${id} whose certificate names ${sans.length ? sans.join(', ') : 'no URI SAN'}`,
    );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: raw.x509_svid_key, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw invalid(`a private key for ${id} that is not unencrypted PKCS#8 DER`, err);
  }
  if (!leaf.checkPrivateKey(privateKey))
    throw invalid(`a private key for ${id} that does not go with its certificate`);
  return {
    spiffeId: id,
    trustDomain,
    hint: raw.hint,
    certificates,
    privateKey,
    certificatePem: certificates.map((c) => c.toString()).join(''),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    expiresAt: new Date(leaf.validTo),
  };
}

/** The SVIDs of an X509SVIDResponse and the bundles it carries (each SVID's own, and the federated ones). */
export function parseSvidResponse(raw: RawSvidResponse): {
  svids: X509Svid[];
  bundles: Map<string, X509Bundle>;
} {
  if (raw.svids.length === 0)
    throw new WorkloadApiError('PEERAUTH_WORKLOAD_NO_IDENTITY', 'the Workload API sent no X.509-SVID');
  const svids = raw.svids.map(parseSvid);
  const bundles = new Map<string, X509Bundle>();
  for (const [key, der] of Object.entries(raw.federated_bundles)) {
    const td = bundleKey(key);
    bundles.set(td, parseBundle(td, der));
  }
  // Each SVID's own trust domain last: what the agent sends as an SVID's bundle is its domain's authority.
  raw.svids.forEach((s, i) => {
    const td = svids[i]!.trustDomain;
    bundles.set(td, parseBundle(td, s.bundle));
  });
  return { svids, bundles: sorted(bundles) };
}

/** Bundles in trust-domain order, so that what a program prints or compares does not follow the wire. */
function sorted(bundles: Map<string, X509Bundle>): Map<string, X509Bundle> {
  return new Map([...bundles].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function parseBundlesResponse(raw: RawBundlesResponse): Map<string, X509Bundle> {
  const bundles = new Map<string, X509Bundle>();
  for (const [key, der] of Object.entries(raw.bundles)) {
    const td = bundleKey(key);
    if (bundles.has(td)) throw invalid(`two bundles for trust domain ${JSON.stringify(td)}`);
    bundles.set(td, parseBundle(td, der));
  }
  return sorted(bundles);
}
