// `peerauth serve` as a failing machine and an impatient operator would treat it: few file descriptors,
// signals in every order, bad paths and modes, config files that are not files.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { bin, curlStatus, runCli, tempDir, waitFor } from './helpers.js';

let dir: string;
let child: ChildProcess | undefined;

beforeEach(() => {
  dir = tempDir('pa12-');
});

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Serve {
  child: ChildProcess;
  socket: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `peerauth serve` (through sh when `shell` sets limits first) and waits until it listens. */
async function serve(args: string[], opts: { fdLimit?: number } = {}): Promise<Serve> {
  const socket = path.join(dir, 's.sock');
  const argv = [bin, 'serve', '--socket', socket, '--log-format', 'json', ...args];
  child =
    opts.fdLimit === undefined
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('sh', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  const proc = child;
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    const check = () => (out.includes('listening on') ? resolve() : setTimeout(check, 20));
    check();
    exited.then((e) => reject(new Error(`serve exited (${e.code ?? e.signal}) before listening: ${err}`)));
  });
  return { child: proc, socket, stderr: () => err, exited };
}

/** Opens `count` connections at once, each sending a request; resolves when all have closed. */
function flood(socket: string, count: number): Promise<number> {
  return new Promise((resolve) => {
    let closed = 0;
    let answered = 0;
    for (let i = 0; i < count; i++) {
      const c = net.connect(socket);
      let data = '';
      c.on('connect', () => c.write('GET /whoami HTTP/1.0\r\n\r\n'));
      c.on('data', (d) => {
        data += d;
      });
      c.on('error', () => {});
      c.on('close', () => {
        if (data.startsWith('HTTP/1.1 200')) answered++;
        if (++closed === count) resolve(answered);
      });
    }
  });
}

describe('file descriptors run out while the pool starts', () => {
  it('600 connections before the first lookup under ulimit -n 256: no crash, and it recovers', async () => {
    const s = await serve([], { fdLimit: 256 });
    await flood(s.socket, 600);
    // Once descriptors are free again, fresh requests are answered by a working pool.
    let status = '';
    for (let i = 0; i < 100 && status !== '200' && s.child.exitCode === null; i++) {
      status = await curlStatus(s.socket, '/whoami');
      if (status !== '200') await new Promise((r) => setTimeout(r, 200));
    }
    expect(s.child.exitCode).toBeNull();
    expect(s.stderr()).not.toContain("Emitted 'error' event");
    expect(status).toBe('200');
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 60_000);
});

describe('signals', () => {
  it.each([
    [['SIGHUP']],
    [['SIGTERM', 'SIGTERM']],
    [['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGINT']],
  ] as NodeJS.Signals[][][])(
    '%j: the socket and every directory peerauth made are removed',
    async (signals) => {
      const s = await serve([]);
      for (const signal of signals) s.child.kill(signal);
      const { code, signal } = await s.exited;
      // A graceful stop exits 0; a further signal may end it at once (by design, after the cleanup).
      expect(code === 0 || (signal !== null && signals.includes(signal))).toBe(true);
      expect(fs.readdirSync(dir)).toEqual([]);
    },
  );

  // GNU coreutils timeout is Linux's; macOS has none (Homebrew's is gtimeout).
  it.skipIf(!isLinux)(
    'coreutils timeout (a signal to the child and another to its group) leaves nothing behind',
    async () => {
      const socket = path.join(dir, 's.sock');
      const r = await new Promise<number | null>((resolve) => {
        const p = spawn('timeout', ['1.5', process.execPath, bin, 'serve', '--socket', socket], {
          stdio: 'ignore',
        });
        p.once('exit', (code) => resolve(code));
      });
      expect(r).toBe(124);
      expect(fs.readdirSync(dir)).toEqual([]);
    },
  );
});

describe('socket paths', () => {
  it('an empty --socket is a usage error (exit 2)', async () => {
    const r = await runCli(['serve', '--socket', '']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--socket');
  });

  it('a path longer than sun_path is PEERAUTH_SOCKET_PATH_TOO_LONG and nothing is created', async () => {
    const long = path.join(dir, `${'x'.repeat(120)}.sock`);
    const r = await runCli(['serve', '--socket', long]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PEERAUTH_SOCKET_PATH_TOO_LONG');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a missing directory is named in a clear error, and doctor says the same', async () => {
    const missing = path.join(dir, 'nope');
    const r = await runCli(['serve', '--socket', path.join(missing, 's.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`socket directory ${missing} does not exist`);
    expect(r.stderr).not.toContain('mkdtemp');
    const d = await runCli(['doctor', '--socket', path.join(missing, 's.sock')]);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain(`socket directory ${missing} does not exist`);
  });

  it('a directory another user can write is refused by serve and by doctor', async () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const r = await runCli(['serve', '--socket', path.join(open, 's.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PEERAUTH_UNSAFE_SOCKET_DIRECTORY');
    const d = await runCli(['doctor', '--socket', path.join(open, 's.sock')]);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('writable by group or others');
    expect(fs.readdirSync(open)).toEqual([]);
  });
});

describe('--mode that a directory on the path contradicts', () => {
  it('warns at start and in doctor, naming the directory and the fix', async () => {
    const privateDir = path.join(dir, 'private');
    fs.mkdirSync(privateDir, { mode: 0o700 });
    const socket = path.join(privateDir, 's.sock');
    const d = await runCli(['doctor', '--socket', socket, '--mode', '0666']);
    expect(d.stdout).toContain(`directory ${privateDir} (mode 0700) does not let them through`);
    expect(d.stdout).toContain('/run/peerauth');
    child = spawn(
      process.execPath,
      [bin, 'serve', '--socket', socket, '--mode', '0666', '--log-format', 'json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr?.on('data', (c) => {
      err += c;
    });
    await waitFor(() => err.includes('does not let them through'));
    expect(err).toContain(privateDir);
    expect(err).toContain('/run/peerauth');
  });

  it('says nothing for the default mode', async () => {
    const s = await serve([]);
    expect(s.stderr()).not.toContain('does not let them through');
  });
});

describe('config files that are not regular files', () => {
  it('a FIFO as --config fails at once instead of hanging', async () => {
    const fifo = path.join(dir, 'config.json');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['serve', '--socket', path.join(dir, 's.sock'), '--config', fifo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a regular file');
  });
});
