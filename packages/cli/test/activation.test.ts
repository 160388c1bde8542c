// systemd socket activation as `peerauth serve` sees it: the start line names the activation socket (its
// path, or host:port for TCP), and variables meant for another process (a wrapper such as npx) are a
// warning naming both pids instead of a silent fallback.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, startCli, tempDir, waitFor } from './helpers.js';
import { spawnActivated } from './socket-activation.js';

let dir: string;
let child: ChildProcess | undefined;

beforeEach(() => {
  dir = tempDir('pa28a-');
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
  }
  child = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `peerauth serve` under socket activation; resolves with its stdout once it printed its start line. */
async function activated(kind: 'unix' | 'tcp', where: string): Promise<string> {
  child = spawnActivated(kind, where, ['serve', '--log-format', 'json']);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', () => {});
  await waitFor(() => out.includes('try:') || child?.exitCode !== null);
  return out;
}

describe.skipIf(process.platform !== 'linux')('peerauth serve under socket activation (Linux)', () => {
  it('the start line names the activation socket path, and curl reaches it there', async () => {
    const socketPath = path.join(dir, 'activated.sock');
    const out = await activated('unix', socketPath);
    expect(out).toBe(
      `peerauth serve listening on ${socketPath}\ntry: curl --unix-socket ${socketPath} http://localhost/whoami\n`,
    );
    const r = await run('curl', ['-sS', '--unix-socket', socketPath, 'http://localhost/whoami']);
    expect(JSON.parse(r.stdout).uid).toBe(process.getuid?.());
  });

  it('the start line names host:port for a TCP activation socket', async () => {
    const out = await activated('tcp', '');
    const port = out.split('\n')[0];
    expect(port).toMatch(/^\d+$/);
    expect(out).toBe(
      `${port}\npeerauth serve listening on 127.0.0.1:${port}\ntry: curl http://127.0.0.1:${port}/whoami\n`,
    );
  });
});

describe('activation variables meant for another process', () => {
  it('are a warning naming both pids; the server listens on its own path', async () => {
    const cli = await startCli(['serve'], path.join(dir, 'own.sock'), {
      env: { ...process.env, LISTEN_PID: '1', LISTEN_FDS: '1' },
    });
    try {
      const warning = cli
        .stderr()
        .split('\n')
        .find((l) => l.includes('LISTEN_PID'));
      expect(warning).toBeDefined();
      const line = JSON.parse(warning as string);
      expect(line).toMatchObject({ level: 40, listenPid: '1', pid: cli.child.pid });
      expect(line.msg).toContain(`LISTEN_PID is 1 but this process is ${cli.child.pid}`);
    } finally {
      await cli.stop();
    }
  });
});
