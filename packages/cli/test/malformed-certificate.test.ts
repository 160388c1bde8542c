// An SVID whose subjectAltName identity cannot read (an X400Name entry) is named in check-config's output
// with its code, as every other peerauth error the CLI prints; before, the line read
// "problem: Error: subjectAltName text does not parse", with no code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { issueX400Svid } from '../../../test-fixtures/unreadable-san.js';
import { runCli, tempDir, writeConfig } from './helpers.js';

let certs: SvidCerts;

beforeAll(() => {
  certs = createSvidCerts();
});
afterAll(() => certs?.cleanup());

describe('check-config --svid-cert with a subjectAltName that does not parse', () => {
  it('is a problem naming the file, the code and the entry', async () => {
    const svid = issueX400Svid(certs);
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
