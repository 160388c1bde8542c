// The README's example runs as printed against the test agent (SPIFFE_ENDPOINT_SOCKET names its socket) and
// prints exactly the output shown after it.
import { readFileSync } from 'node:fs';
import path, { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkReadme, codeBlocks } from '../../../test-fixtures/readme.js';
import { createSvidCerts, DOMAIN_B, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { removeDir, tempDir } from '../../../test-fixtures/temp-dir.js';
import { WorkloadAgent } from '../../../test-fixtures/workload-agent.js';

const root = join(import.meta.dirname, '..');
const readme = join(root, 'README.md');

let certs: SvidCerts;
let dir: string;
let agent: WorkloadAgent;
beforeAll(async () => {
  certs = createSvidCerts();
  dir = tempDir('pa-wl-readme-');
  agent = new WorkloadAgent(path.join(dir, 'agent.sock'), {
    svids: [
      {
        spiffeId: 'spiffe://a.test/workload',
        chainPem: certs.good.pem,
        keyPem: readFileSync(certs.good.key, 'utf8'),
        bundlePem: certs.rootA.pem,
      },
    ],
    federated: { [DOMAIN_B]: certs.rootB.pem },
  });
  await agent.start();
}, 60_000);
afterAll(() => {
  agent?.stop();
  if (dir) removeDir(dir);
  certs?.cleanup();
});

it('the README example runs against an agent and prints what the README shows', async () => {
  const blocks = codeBlocks(readFileSync(readme, 'utf8'));
  const shown = blocks[blocks.findIndex((b) => b.lang === 'js') + 1]!;
  expect(shown.lang).toBe('text');
  const saved = process.env.SPIFFE_ENDPOINT_SOCKET;
  process.env.SPIFFE_ENDPOINT_SOCKET = `unix://${agent.socketPath}`;
  try {
    await checkReadme({
      readme,
      packageDir: root,
      runs: [{ kind: 'exits', stdout: (out) => expect(out).toBe(shown.code) }],
    });
  } finally {
    if (saved === undefined) delete process.env.SPIFFE_ENDPOINT_SOCKET;
    else process.env.SPIFFE_ENDPOINT_SOCKET = saved;
  }
}, 120_000);
