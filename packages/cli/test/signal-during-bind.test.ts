// SIGTERM while `peerauth serve` is binding its socket: the start is undone quietly (no level-50
// "server error" from the interrupted bind), the process exits 0 and leaves nothing behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, tempDir } from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = tempDir('pa28s-');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== 'linux')(
  'SIGTERM during the bind (Linux: the bind directory is visible)',
  () => {
    it('logs no error and exits 0, leaving no files', async () => {
      let interrupted = 0;
      for (let run = 0; run < 6; run++) {
        const socketDir = path.join(dir, `r${run}`);
        fs.mkdirSync(socketDir, { mode: 0o755 });
        const child = spawn(
          process.execPath,
          [bin, 'serve', '--socket', path.join(socketDir, 's.sock'), '--log-format', 'json'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.stderr.on('data', (d) => {
          out += d;
        });
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        try {
          // The private bind directory (.pa-*) exists only between the start of the bind and its end.
          const deadline = Date.now() + 10_000;
          let seen = false;
          while (!seen && Date.now() < deadline && child.exitCode === null) {
            seen = fs.readdirSync(socketDir).some((f) => f.startsWith('.pa-'));
            if (!seen) await new Promise((r) => setImmediate(r));
          }
          child.kill('SIGTERM');
          const code = await exited;
          if (!out.includes('listening on')) interrupted++;
          expect(code).toBe(0);
          expect(out).not.toMatch(/"level":50/);
          expect(fs.readdirSync(socketDir)).toEqual([]);
        } finally {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }
      }
      // Say how many runs hit the bind itself: the check above holds for every run either way.
      console.log(`SIGTERM arrived before 'listening' in ${interrupted} of 6 runs`);
      // Six CLI starts in a row: under load each can take seconds, so the default 30 s is not enough.
    }, 180_000);
  },
);
