// An SVID whose subjectAltName identity cannot read (an X400Name entry) is named in check-config's output
// with its code, as every other peerauth error the CLI prints; before, the line read
// "problem: Error: subjectAltName text does not parse", with no code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { runCli, tempDir, writeConfig } from './helpers.js';

// GeneralNames { URI "spiffe://a.test/w", x400Address (an empty ORAddress) } as raw DER: openssl's config
// syntax has no x400Address, and OpenSSL prints it "X400Name:<unsupported>".
const X400_SAN = `DER:${Buffer.concat([
  Buffer.from([0x30, 0x15, 0x86, 0x11]),
  Buffer.from('spiffe://a.test/w'),
  Buffer.from([0xa3, 0x00]),
]).toString('hex')}`;

let certs: SvidCerts;

beforeAll(() => {
  certs = createSvidCerts();
});
afterAll(() => certs?.cleanup());

describe('check-config --svid-cert with a subjectAltName that does not parse', () => {
  it('is a problem naming the file, the code and the entry', async () => {
    const svid = certs.issue('x400-server', certs.rootA, X400_SAN);
    const config = writeConfig(tempDir('pacli-x400-'), {
      trustDomains: { [DOMAIN_A]: { bundle: certs.bundleA } },
      people: [],
    });
    const r = await runCli(['check-config', config, '--svid-cert', svid.cert, '--svid-key', svid.key]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${svid.cert}: PROBLEM`);
    expect(r.stderr).toContain(
      'problem: PEERAUTH_CERTIFICATE_MALFORMED: malformed certificate: subjectAltName entry "X400Name:<unsupported>" does not parse',
    );
  });
});
