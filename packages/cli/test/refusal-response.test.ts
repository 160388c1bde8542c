// A refused caller of an HTTP-speaking command (serve, proxy) gets a short HTTP 403 naming the class of
// the refusal, not the policy, instead of a reset that curl reports as "Couldn't connect to server".
// exec speaks no HTTP: its refused callers are still just closed. The audit line is the same either way.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startCli, tempDir, waitFor } from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = tempDir('pa28r-');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// This user is the person "owner" under the default config; a server admitting only "public" refuses it.
const curl = (socket: string) =>
  run('curl', ['-sS', '--unix-socket', socket, '-w', '\n%{http_code}', 'http://localhost/whoami']);

describe('a refused caller', () => {
  for (const [command, rest] of [
    ['serve', []],
    ['proxy', ['--upstream', 'http://127.0.0.1:9']],
  ] as const) {
    it(`${command}: HTTP 403 naming the reason class, then the connection closes; the audit line is unchanged`, async () => {
      const cli = await startCli(
        [command, '--allow-roles', 'public', ...rest],
        path.join(dir, `${command}.sock`),
      );
      try {
        const r = await curl(cli.socket);
        expect(r.code).toBe(0);
        const lines = r.stdout.trimEnd().split('\n');
        expect(lines.at(-1)).toBe('403');
        const body = lines.slice(0, -1).join('\n').trim();
        expect(body).toBe('peerauth: connection refused (role not allowed)');
        // The policy stays on the server: no role names, no config.
        expect(body).not.toMatch(/owner|public|allowRoles/);
        await waitFor(
          () =>
            cli.stderr().includes('"decision":"rejected"') || cli.stdout().includes('"decision":"rejected"'),
        );
        const log = cli.stdout() + cli.stderr();
        expect(log).toContain('"reason":"role \\"owner\\" is not in allowRoles"');
      } finally {
        await cli.stop();
      }
    });
  }

  it('exec: the connection is closed without an answer', async () => {
    const cli = await startCli(['exec', '--allow-roles', 'public', '--', 'cat'], path.join(dir, 'exec.sock'));
    try {
      const r = await curl(cli.socket);
      expect(r.stdout).not.toContain('403');
      expect(r.code).not.toBe(0);
    } finally {
      await cli.stop();
    }
  });
});
