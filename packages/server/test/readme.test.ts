// Every js block of the README is type-checked with strict TypeScript and runs as printed (only socket
// paths are swapped for temporary ones); see test-fixtures/readme.ts.
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, it } from 'vitest';
import { checkReadme, curlUnix } from '../../../test-fixtures/readme.js';
import { ensureDist } from './build-dist.js';

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

beforeAll(() => {
  ensureDist();
}, 120_000);

function exchange(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    net
      .connect(socketPath)
      .on('data', (d) => {
        data += d;
      })
      .on('close', () => resolve(data))
      .on('error', reject);
  });
}

async function whoami(socketPath: string): Promise<void> {
  const body = JSON.parse(await curlUnix(socketPath));
  expect(body).toEqual({ user: expect.any(String), role: expect.any(String) });
}

it('every README example type-checks strictly and runs', async () => {
  await checkReadme({
    readme: path.join(PKG, 'README.md'),
    packageDir: PKG,
    runs: [
      {
        kind: 'serves',
        socket: '/tmp/peerauth-demo.sock',
        client: async (s) => expect(await exchange(s)).toMatch(/^hello .+, your role is \S+\n$/),
        ctrlCLeavesNothing: true,
      },
      // The admit hook keeping what it prepared under the socket: type-checked only.
      { kind: 'types' },
      {
        kind: 'serves',
        socket: '/run/myapp/api.sock',
        client: async (s) => expect(await curlUnix(s)).toMatch(/^hello \S+\n$/),
      },
      { kind: 'serves', socket: '/run/myapp/api.sock', client: whoami },
      { kind: 'serves', socket: '/run/myapp/api.sock', client: whoami },
      // A peerauth:connection subscriber: type-checked only.
      { kind: 'types' },
    ],
  });
}, 120_000);
