// A certificate whose subjectAltName or DER this package cannot read is a typed error with a stable code,
// thrown by the public uriSans and carried (as the cause, in the reader's words) by the SVID rules'
// PEERAUTH_SVID_MALFORMED refusal. Before, uriSans threw a bare Error without a code, and the refusal's
// message read "subjectAltName: Error: subjectAltName text does not parse".
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { issueX400Svid, X400_SPIFFE_ID } from '../../../test-fixtures/unreadable-san.js';
import {
  bundleSet,
  certificateSpiffeId,
  checkSvidLeaf,
  IdentityError,
  loadBundle,
  MalformedCertificateError,
  SvidVerificationError,
  uriSans,
} from '../src/index.js';

let certs: SvidCerts;
let x400: X509Certificate;

beforeAll(() => {
  certs = createSvidCerts();
  x400 = new X509Certificate(issueX400Svid(certs).pem);
});
afterAll(() => certs?.cleanup());

describe('a certificate this package cannot read', () => {
  it('uriSans throws MalformedCertificateError, PEERAUTH_CERTIFICATE_MALFORMED, naming the entry', () => {
    expect(x400.subjectAltName).toBe(`URI:${X400_SPIFFE_ID}, X400Name:<unsupported>`);
    let err: unknown;
    try {
      uriSans(x400);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MalformedCertificateError);
    expect(err).toBeInstanceOf(IdentityError);
    expect(err).toMatchObject({
      code: 'PEERAUTH_CERTIFICATE_MALFORMED',
      message: 'malformed certificate: subjectAltName entry "X400Name:<unsupported>" does not parse',
    });
  });

  it('a peer presenting it is refused PEERAUTH_SVID_MALFORMED in the reader’s words, the typed error as cause', () => {
    const bundles = bundleSet([loadBundle(DOMAIN_A, certs.rootA.pem)]);
    let err: unknown;
    try {
      checkSvidLeaf(x400, bundles);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SvidVerificationError);
    expect(err).toMatchObject({
      code: 'PEERAUTH_SVID_MALFORMED',
      message: 'X.509-SVID refused: subjectAltName entry "X400Name:<unsupported>" does not parse',
    });
    expect((err as Error).cause).toBeInstanceOf(MalformedCertificateError);
  });

  it('certificateSpiffeId (describing a certificate) reads it as having no SPIFFE ID', () => {
    expect(certificateSpiffeId(x400)).toBeNull();
  });
});
