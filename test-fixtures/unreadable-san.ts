// An X.509-SVID whose subjectAltName holds, after its SPIFFE ID, an entry identity's reader does not know: an
// X400Name, which OpenSSL prints "X400Name:<unsupported>" (a digit in its type). The cli, identity and server
// tests of a malformed certificate all present this one certificate.
import { type CertFiles, DOMAIN_A, type SvidCerts } from './svid-certs.js';

/** The SPIFFE ID in the certificate's URI entry. */
export const X400_SPIFFE_ID = `spiffe://${DOMAIN_A}/w`;

// GeneralNames { uniformResourceIdentifier X400_SPIFFE_ID, x400Address (an empty ORAddress) }, written as raw
// DER because openssl's config syntax has no x400Address.
function x400San(): string {
  const uri = Buffer.from(X400_SPIFFE_ID);
  const names = Buffer.concat([Buffer.from([0x86, uri.length]), uri, Buffer.from([0xa3, 0x00])]);
  return `DER:${Buffer.concat([Buffer.from([0x30, names.length]), names]).toString('hex')}`;
}

/** Issues the certificate under `certs.rootA` (trust domain a.test) as `name` in the certs' directory. */
export function issueX400Svid(certs: SvidCerts, name = 'x400'): CertFiles {
  return certs.issue(name, certs.rootA, x400San());
}
