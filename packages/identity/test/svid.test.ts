import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, DOMAIN_B, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import {
  bundleSet,
  checkSvidRules,
  InvalidBundleError,
  loadBundle,
  parseSpiffeId,
  SvidVerificationError,
  type TrustBundleSet,
} from '../src/index.js';

let certs: SvidCerts;
let both: TrustBundleSet;
let onlyA: TrustBundleSet;

beforeAll(() => {
  certs = createSvidCerts();
  const a = loadBundle(DOMAIN_A, readFileSync(certs.bundleA));
  const b = loadBundle(DOMAIN_B, readFileSync(certs.bundleB));
  both = bundleSet([a, b]);
  onlyA = bundleSet([a]);
}, 60_000);
afterAll(() => certs?.cleanup());

function refusal(chain: string[], bundles: TrustBundleSet, now?: Date): SvidVerificationError {
  try {
    checkSvidRules(chain, bundles, now);
  } catch (err) {
    expect(err).toBeInstanceOf(SvidVerificationError);
    return err as SvidVerificationError;
  }
  throw new Error('checkSvidRules accepted the chain');
}

describe('checkSvidRules: accepted', () => {
  it('a leaf signed by its trust domain root', () => {
    const v = checkSvidRules([certs.good.pem], both);
    expect(v.spiffeId).toBe(`spiffe://${DOMAIN_A}/workload`);
    expect(v.trustDomain).toBe(DOMAIN_A);
    expect(v.chain.map((c: X509Certificate) => c.subject)).toEqual([
      v.leaf.subject,
      new X509Certificate(certs.rootA.pem).subject,
    ]);
  });

  it('a leaf signed by an intermediate the peer sends', () => {
    const v = checkSvidRules([certs.goodViaIntermediate.pem, certs.intermediateA.pem], onlyA);
    expect(v.spiffeId).toBe(`spiffe://${DOMAIN_A}/via-intermediate`);
    expect(v.chain).toHaveLength(3);
  });

  it('DER buffers and X509Certificate objects as well as PEM', () => {
    const leaf = new X509Certificate(certs.good.pem);
    expect(checkSvidRules([leaf.raw], onlyA).spiffeId).toBe(`spiffe://${DOMAIN_A}/workload`);
    expect(checkSvidRules([leaf], onlyA).leaf).toBe(leaf);
  });

  it('each domain against its own bundle', () => {
    expect(checkSvidRules([certs.goodB.pem], both).trustDomain).toBe(DOMAIN_B);
  });

  it('the server SVID for TLS', () => {
    expect(checkSvidRules([certs.server.pem], onlyA).spiffeId).toBe(`spiffe://${DOMAIN_A}/peerauth-server`);
  });
});

describe('checkSvidRules: refused', () => {
  it('no certificate', () => {
    expect(refusal([], both).code).toBe('PEERAUTH_SVID_EMPTY_CHAIN');
  });

  it('not a certificate', () => {
    expect(refusal(['not a certificate'], both).code).toBe('PEERAUTH_SVID_MALFORMED');
  });

  it('two URI SANs', () => {
    const e = refusal([certs.twoUris.pem], both);
    expect(e.code).toBe('PEERAUTH_SVID_MULTIPLE_URI_SANS');
    expect(e.message).toContain(`spiffe://${DOMAIN_A}/two`);
  });

  it('no URI SAN', () => {
    expect(refusal([certs.noUri.pem], both).code).toBe('PEERAUTH_SVID_NO_URI_SAN');
  });

  it('a URI SAN that is not a SPIFFE ID', () => {
    const e = refusal([certs.notSpiffe.pem], both);
    expect(e.code).toBe('PEERAUTH_SVID_NOT_SPIFFE_ID');
    expect(e.message).toContain('https://a.test/workload');
  });

  it('a leaf that is a CA', () => {
    expect(refusal([certs.leafIsCa.pem], both).code).toBe('PEERAUTH_SVID_LEAF_IS_CA');
  });

  it('a leaf with keyCertSign', () => {
    const e = refusal([certs.keyCertSign.pem], both);
    expect(e.code).toBe('PEERAUTH_SVID_LEAF_KEY_USAGE');
    expect(e.message).toContain('keyCertSign');
  });

  it('an expired leaf', () => {
    const e = refusal([certs.expired.pem], both);
    expect(e.code).toBe('PEERAUTH_SVID_EXPIRED');
    expect(e.spiffeId).toBe(`spiffe://${DOMAIN_A}/expired`);
  });

  it('a good leaf before its start date', () => {
    expect(refusal([certs.good.pem], both, new Date('2000-01-01T00:00:00Z')).code).toBe(
      'PEERAUTH_SVID_NOT_YET_VALID',
    );
  });

  it('a good leaf at a given now after its end date', () => {
    const later = new Date(Date.parse(new X509Certificate(certs.good.pem).validTo) + 1000);
    expect(refusal([certs.good.pem], both, later).code).toBe('PEERAUTH_SVID_EXPIRED');
  });

  it('a leaf of domain B where only A is trusted', () => {
    const e = refusal([certs.goodB.pem], onlyA);
    expect(e.code).toBe('PEERAUTH_SVID_UNTRUSTED_DOMAIN');
    expect(e.message).toContain(DOMAIN_B);
  });

  it("a leaf of domain A signed by B's authority while both bundles are trusted", () => {
    const e = refusal([certs.signedByOtherDomain.pem], both);
    expect(e.code).toBe('PEERAUTH_SVID_CHAIN_UNVERIFIED');
    expect(e.spiffeId).toBe(`spiffe://${DOMAIN_A}/intruder`);
  });

  it("a leaf of domain A with B's intermediate offered as its issuer", () => {
    expect(refusal([certs.signedByOtherDomain.pem, certs.intermediateB.pem], both).code).toBe(
      'PEERAUTH_SVID_CHAIN_UNVERIFIED',
    );
  });

  it('a leaf whose ID has no path (the trust domain ID itself)', () => {
    const bare = certs.issue('bare-domain-id', certs.rootA, `URI:spiffe://${DOMAIN_A}`);
    const e = refusal([bare.pem], both);
    expect(e.code).toBe('PEERAUTH_SVID_NO_PATH');
    expect(e.message).toContain(`"spiffe://${DOMAIN_A}" has no path`);
  });

  it("a leaf whose issuer name is also another domain's authority: OpenSSL could have ended the path there", () => {
    // Same subject as root A, another key: a leaf without an authority key identifier matches both by name.
    const lookalike = certs.newRoot('root A', DOMAIN_B);
    const leaf = certs.issue(
      'no-akid',
      certs.rootA,
      `URI:spiffe://${DOMAIN_A}/no-akid`,
      'authorityKeyIdentifier=none\n',
    );
    const bundles = bundleSet([loadBundle(DOMAIN_A, certs.rootA.pem), loadBundle(DOMAIN_B, lookalike.pem)]);
    expect(new X509Certificate(leaf.pem).checkIssued(new X509Certificate(lookalike.pem))).toBe(true);
    const e = refusal([leaf.pem], bundles);
    expect(e.code).toBe('PEERAUTH_SVID_CHAIN_UNVERIFIED');
    expect(e.message).toContain('another trust domain');
    // The same root in both bundles (a shared upstream) is not another domain's authority.
    const shared = bundleSet([loadBundle(DOMAIN_A, certs.rootA.pem), loadBundle(DOMAIN_B, certs.rootA.pem)]);
    expect(checkSvidRules([certs.good.pem], shared).spiffeId).toBe(`spiffe://${DOMAIN_A}/workload`);
  });

  it('a leaf signed by an intermediate the peer did not send', () => {
    expect(refusal([certs.goodViaIntermediate.pem], both).code).toBe('PEERAUTH_SVID_CHAIN_UNVERIFIED');
  });
});

describe('loadBundle', () => {
  it('reads every certificate of a PEM bundle', () => {
    const b = loadBundle(DOMAIN_A, `${certs.rootA.pem}\n${certs.intermediateA.pem}`);
    expect(b.authorities).toHaveLength(2);
  });

  it('refuses text without certificates, a bad trust domain, and a domain given twice', () => {
    expect(() => loadBundle(DOMAIN_A, 'nothing')).toThrow(InvalidBundleError);
    expect(() => loadBundle('A.Test', certs.rootA.pem)).toThrow(/lowercase/);
    const a = loadBundle(DOMAIN_A, certs.rootA.pem);
    expect(() => bundleSet([a, a])).toThrow(/given twice/);
  });
});

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://a.test', ''],
    ['spiffe://a.test/x/y-z_1.2', '/x/y-z_1.2'],
  ])('%s', (id, path) => {
    expect(parseSpiffeId(id)).toEqual({ id, trustDomain: 'a.test', path });
  });

  it.each([
    'https://a.test/x',
    'SPIFFE://a.test/x',
    'spiffe://',
    'spiffe://A.test/x',
    'spiffe://a.test:8080/x',
    'spiffe://a.test/x/',
    'spiffe://a.test//x',
    'spiffe://a.test/./x',
    'spiffe://a.test/../x',
    'spiffe://a.test/x?y',
    'spiffe://a.test/x%20y',
  ])('refuses %s', (id) => {
    expect(() => parseSpiffeId(id)).toThrow(expect.objectContaining({ code: 'PEERAUTH_INVALID_SPIFFE_ID' }));
  });
});
