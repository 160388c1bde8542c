// `peerauth whoami` pointed at a `peerauth proxy` socket: the proxy forwards /whoami to its upstream,
// whose JSON is not a whoami answer. The command says so instead of crashing on the missing fields.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, tempDir } from './helpers.js';
import { startNodeUpstream } from './upstreams.js';

let dir: string;

beforeAll(() => {
  dir = tempDir('pa28w-');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('whoami --socket <a proxy socket>', () => {
  it('exits 1 saying the answer is not a whoami answer and that a proxy forwards to its upstream', async () => {
    const upstream = await startNodeUpstream();
    const cli = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
    try {
      const r = await runCli(['whoami', '--socket', cli.socket]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `peerauth: PEERAUTH_WHOAMI_FAILED: ${cli.socket}: the answer is not a peerauth whoami answer (whoami asks a \`peerauth serve\` socket; a \`peerauth proxy\` socket forwards the request to its upstream)\n`,
      );
      expect(upstream.seen.map((s) => s.path)).toEqual(['/whoami']);
    } finally {
      await cli.stop();
      await upstream.close();
    }
  });
});
