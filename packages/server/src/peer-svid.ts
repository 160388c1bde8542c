// A TLS client's X.509-SVID, decided in two steps. OpenSSL validated the certificate path during the handshake
// against every configured bundle (RFC 5280: signatures, validity, name constraints, critical extensions,
// path length, purpose), which Node reports as `authorized`; the SPIFFE rules then hold on top: the leaf's
// ID and flags, and a path that ends at an authority of the leaf's own trust domain only. The leaf's rules
// and its domain's bundle are checked first and cost one certificate parse, so a peer that no bundle
// vouches for is refused before any signature is looked at by this process.
import type tls from 'node:tls';
import {
  checkSvidLeaf,
  checkSvidRules,
  type SvidErrorCode,
  SvidVerificationError,
  type TrustBundleSet,
  type VerifiedSvid,
} from '@peerauth/identity';

// OpenSSL verdicts that have a code of their own; every other one is PEERAUTH_SVID_PATH_INVALID.
const OPENSSL_CODES: Readonly<Record<string, SvidErrorCode>> = {
  CERT_HAS_EXPIRED: 'PEERAUTH_SVID_EXPIRED',
  CERT_NOT_YET_VALID: 'PEERAUTH_SVID_NOT_YET_VALID',
  UNABLE_TO_GET_ISSUER_CERT: 'PEERAUTH_SVID_CHAIN_UNVERIFIED',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'PEERAUTH_SVID_CHAIN_UNVERIFIED',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'PEERAUTH_SVID_CHAIN_UNVERIFIED',
  SELF_SIGNED_CERT_IN_CHAIN: 'PEERAUTH_SVID_CHAIN_UNVERIFIED',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'PEERAUTH_SVID_CHAIN_UNVERIFIED',
};

/** OpenSSL's own words for its verdict: Node names many X509_V_ERR codes only UNSPECIFIED. */
function opensslReason(socket: tls.TLSSocket): string {
  const code = String(socket.authorizationError);
  // TLSSocket.ssl is the handle Node itself reads the code from; its message is X509_verify_cert_error_string.
  const handle = (socket as { ssl?: { verifyError?: () => Error | null } }).ssl;
  let text: string | undefined;
  try {
    text = handle?.verifyError?.()?.message;
  } catch {
    text = undefined;
  }
  return text && text !== code ? `${code}: ${text}` : code;
}

// A bound on the work one peer can cause; SPIRE chains are a leaf plus a few intermediates.
const MAX_CHAIN = 16;

/**
 * The certificates of the client's path, leaf first, as DER, as Node links them by issuer (ending with the
 * authority from the context's store). checkSvidRules re-checks each link's signature.
 */
export function peerChain(socket: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256) && out.length < MAX_CHAIN) {
    seen.add(cert.fingerprint256);
    out.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return out;
}

/** The verified SVID of a TLS client of the listener, or SvidVerificationError naming what failed. */
export function verifyPeerSvid(socket: tls.TLSSocket, bundles: TrustBundleSet): VerifiedSvid {
  // The short form reads the leaf alone. Not getPeerX509Certificate(): on a server socket (Node 20) it drops
  // a certificate from the peer chain that getPeerCertificate(true) later reads.
  const leaf = socket.getPeerCertificate(false)?.raw;
  if (leaf === undefined)
    throw new SvidVerificationError('PEERAUTH_SVID_EMPTY_CHAIN', 'the peer sent no certificate');
  const { spiffeId } = checkSvidLeaf(leaf, bundles);
  if (!socket.authorized) {
    // Node gives OpenSSL's X509_V_ERR name without its prefix (a string, whatever the typings say).
    const code = String(socket.authorizationError);
    throw new SvidVerificationError(
      OPENSSL_CODES[code] ?? 'PEERAUTH_SVID_PATH_INVALID',
      `OpenSSL refused the certificate path (${opensslReason(socket)})`,
      spiffeId,
    );
  }
  return checkSvidRules(peerChain(socket), bundles);
}
