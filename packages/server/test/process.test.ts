// What only a whole process shows: systemd socket activation and the opt-in signal handlers.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureDist } from './build-dist.js';
import { closeServer, listenOn, makeTempDir, removeDir, tryConnect, waitFor } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/peer-child.mjs', import.meta.url));

let dir: string;
let child: ChildProcess | undefined;

beforeAll(() => {
  ensureDist();
}, 120_000);

beforeEach(() => {
  dir = makeTempDir();
});

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  removeDir(dir);
});

function waitForLine(proc: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d) => {
      out += d;
      if (out.split('\n').includes(line)) resolve();
      else if (out.startsWith('ERROR')) reject(new Error(out));
    });
    proc.once('exit', (code, signal) =>
      reject(new Error(`child exited ${code ?? signal} before "${line}": ${out}`)),
    );
  });
}

function request(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
    let data = '';
    c.on('data', (d) => {
      data += d;
    });
    c.on('close', () => resolve(data));
    c.on('error', reject);
  });
}

describe('systemd socket activation', () => {
  it('a child given a listening fd as fd 3 with LISTEN_FDS=1 and its own LISTEN_PID serves on it', async () => {
    // The "systemd" side: create and bind the socket, pass it as fd 3, keep no listener of our own.
    const bindPath = path.join(dir, 'bind.sock');
    const publicPath = path.join(dir, 'activated.sock');
    const holder = net.createServer();
    await listenOn(holder, bindPath);
    // A second name for the same socket inode: closing `holder` unlinks bind.sock, not this one.
    fs.linkSync(bindPath, publicPath);
    const fd = (holder as unknown as { _handle: { fd: number } })._handle.fd;
    // LISTEN_PID must be the pid that ends up running node: the shell's pid, kept by exec.
    child = spawn('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, CHILD, 'activated'], {
      stdio: ['ignore', 'pipe', 'inherit', fd],
      env: { ...process.env, LISTEN_FDS: '1' },
    });
    const ready = waitForLine(child, 'ready');
    await ready;
    // Only the child accepts from now on.
    await closeServer(holder);
    const reply = JSON.parse(await request(publicPath));
    expect(reply).toEqual({
      uid: process.getuid?.(),
      serverPid: child.pid,
      env: { LISTEN_PID: null, LISTEN_FDS: null },
      path: null,
    });
    child.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r));
    // The server did not create the socket file, so it never removes it.
    expect(fs.lstatSync(publicPath).isSocket()).toBe(true);
  });

  it('listenFds: true without activation is an error, not a silent fallback', async () => {
    child = spawn(process.execPath, [CHILD, 'activated'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LISTEN_FDS: '1', LISTEN_PID: '1' },
    });
    const out = await new Promise<string>((resolve) => {
      let text = '';
      child?.stdout?.on('data', (d) => {
        text += d;
      });
      child?.once('exit', () => resolve(text));
    });
    expect(out).toContain('ERROR PEERAUTH_NO_ACTIVATION_SOCKET');
  });
});

describe("handleSignals: 'close' with drainTimeoutMs", () => {
  it('a signal closes the server at once, cuts a connection still open after the drain timeout, and the process ends by itself with status 0', async () => {
    const socketPath = path.join(dir, 'drain.sock');
    child = spawn(process.execPath, [CHILD, 'drain', socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    await waitFor(() => out.includes('ready\n'));
    const held = net.connect(socketPath);
    const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
    held.on('error', () => {});
    await new Promise<void>((resolve) => held.once('data', () => resolve()));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      child?.once('exit', (code, signal) => r([code, signal])),
    );
    child.kill('SIGTERM');
    // The socket file goes at once, while the held connection is still open.
    await waitFor(() => !fs.existsSync(socketPath));
    await closed;
    expect(await exited).toEqual([0, null]);
    const logs = out
      .split('\n')
      .filter((l) => l.startsWith('LOG '))
      .map((l) => JSON.parse(l.slice(4)) as Record<string, unknown>);
    expect(logs.find((l) => l.msg === 'shutting down')).toMatchObject({
      level: 'info',
      reason: 'SIGTERM',
      open: 1,
      drainTimeoutMs: 300,
    });
    expect(logs.find((l) => l.msg === 'drain timeout: closing the remaining connections')).toMatchObject({
      level: 'warn',
      open: 1,
    });
    await waitFor(() => fs.readdirSync(dir).length === 0);
  });
});

describe('handleSignals', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    '%s closes the server, removes the socket file, ends the process',
    async (signal) => {
      const socketPath = path.join(dir, 'sig.sock');
      child = spawn(process.execPath, [CHILD, 'signals', socketPath], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await waitForLine(child, 'ready');
      expect(JSON.parse(await request(socketPath)).serverPid).toBe(child.pid);
      const exited = new Promise<NodeJS.Signals | null>((r) => child?.once('exit', (_c, s) => r(s)));
      child.kill(signal);
      expect(await exited).toBe(signal);
      expect(fs.existsSync(socketPath)).toBe(false);
      expect(await tryConnect(socketPath)).toBe('ENOENT');
      await waitFor(() => fs.readdirSync(dir).length === 0);
    },
  );

  it.each([
    ['SIGTERM', 'SIGTERM'],
    ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTERM'],
  ] as NodeJS.Signals[][])(
    'signals back to back (%s, ...) still remove the socket and every directory',
    async (...signals) => {
      const socketPath = path.join(dir, 'sig.sock');
      child = spawn(process.execPath, [CHILD, 'signals', socketPath], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await waitForLine(child, 'ready');
      const exited = new Promise<NodeJS.Signals | null>((r) => child?.once('exit', (_c, s) => r(s)));
      for (const signal of signals) process.kill(child.pid as number, signal);
      // A later signal may end the process first (by design, once the files are gone).
      expect(signals).toContain(await exited);
      expect(fs.readdirSync(dir)).toEqual([]);
    },
  );

  it('a signal during start-up ends the process with nothing left behind', async () => {
    // Sent at several points of the start, since when exactly it lands is up to the scheduler.
    for (const delayMs of [0, 5, 20, 40, 80]) {
      const socketPath = path.join(dir, 'early.sock');
      child = spawn(process.execPath, [CHILD, 'signals', socketPath], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise((r) => child?.stdout?.once('data', r));
      const exited = new Promise<unknown>((r) => child?.once('exit', r));
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGTERM');
      await exited;
      expect(fs.readdirSync(dir), `signal after ${delayMs} ms`).toEqual([]);
    }
  });
});
