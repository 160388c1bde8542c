// The server's own SVID (tls-files) and a peer's SVID (identity's checkSvidLeaf) are read by one SAN reader,
// so a URI SAN holding a comma means the same to both: what go-spiffe's x509svid.IDFromCert reads from the
// certificate's DER (one URI SAN that is a valid SPIFFE ID, or no SPIFFE ID at all).
import { readFileSync } from 'node:fs';
import { bundleSet, checkSvidLeaf, loadBundle, SvidVerificationError } from '@peerauth/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { parseServerSvid } from '../src/tls-files.js';

let certs: SvidCerts;
beforeAll(() => {
  certs = createSvidCerts();
}, 60_000);
afterAll(() => certs?.cleanup());

/** A leaf of trust domain A whose subjectAltName is the given URIs, each one whole GeneralName. */
function leafWithUris(name: string, uris: string[]) {
  // A section of its own: on the subjectAltName line itself openssl would split a value at its comma.
  const section = uris.map((u, i) => `URI.${i + 1}=${u}`).join('\n');
  return certs.issue(name, certs.rootA, `@${name}_alt\n[${name}_alt]\n${section}`);
}

function bothReadings(leaf: { cert: string; key: string }) {
  const pem = readFileSync(leaf.cert, 'utf8');
  const server = parseServerSvid(leaf.cert, pem, leaf.key, readFileSync(leaf.key, 'utf8')).spiffeId;
  const bundles = bundleSet([loadBundle(DOMAIN_A, readFileSync(certs.bundleA, 'utf8'))]);
  let peer: string | null;
  try {
    peer = checkSvidLeaf(pem, bundles).spiffeId;
  } catch (err) {
    if (!(err instanceof SvidVerificationError)) throw err;
    peer = null;
  }
  return { server, peer };
}

describe('one SAN reader for the server SVID and peer SVIDs', () => {
  it('a URI SAN holding a comma is one name, not a SPIFFE ID (a comma is not allowed in a path segment)', () => {
    const leaf = leafWithUris('comma', [`spiffe://${DOMAIN_A}/a,b`]);
    expect(bothReadings(leaf)).toEqual({ server: null, peer: null });
  });

  it('a URI SAN that spells a second entry (", URI:...") inside its value names no SPIFFE ID to either', () => {
    const leaf = leafWithUris('comma-entry', [`spiffe://${DOMAIN_A}/a, URI:spiffe://${DOMAIN_A}/admin`]);
    expect(bothReadings(leaf)).toEqual({ server: null, peer: null });
  });

  it('two URI SANs are no SPIFFE ID to either (an SVID has exactly one)', () => {
    const leaf = leafWithUris('two', [`spiffe://${DOMAIN_A}/one`, `spiffe://${DOMAIN_A}/two`]);
    expect(bothReadings(leaf)).toEqual({ server: null, peer: null });
  });

  it('a plain SPIFFE ID beside the comma cases reads the same to both', () => {
    const leaf = leafWithUris('plain', [`spiffe://${DOMAIN_A}/workload`]);
    expect(bothReadings(leaf)).toEqual({
      server: `spiffe://${DOMAIN_A}/workload`,
      peer: `spiffe://${DOMAIN_A}/workload`,
    });
  });
});
