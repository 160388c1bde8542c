// Real sockets and real client processes for the tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CredentialPoolOptions } from '../src/index.js';
import { Pool } from '../src/pool.js';

// vitest runs src/, but worker threads are plain Node: they run the built worker (npm run build).
const builtWorker = fileURLToPath(new URL('../dist/worker.js', import.meta.url));
const steppingWorker = fileURLToPath(new URL('./fixtures/stepping-worker.mjs', import.meta.url));

/** A pool as createCredentialPool makes it, on the built worker. */
export function createTestPool(options: CredentialPoolOptions = {}): Pool {
  return new Pool(options, { file: builtWorker });
}

/**
 * A pool on test/fixtures/stepping-worker.mjs: its `run('hang', { op: 'hang' })` and `{ op: 'crash' }`
 * hang or crash a worker; `hangAfterOpen` stalls every processInfo with the executable open, `gate` holds
 * every processInfo before its liveness check (see the fixture).
 */
export function createSteppingPool(
  options: CredentialPoolOptions,
  steps: { hangAfterOpen?: boolean; gate?: Int32Array } = {},
): Pool {
  return new Pool(options, { file: steppingWorker, data: steps });
}

export interface Listener {
  path: string;
  server: net.Server;
  nextConnection(): Promise<net.Socket>;
  close(): Promise<void>;
}

/** A Unix socket server in a fresh directory that any uid may reach (clients run as test users). */
export async function listen(): Promise<Listener> {
  const dir = mkdtempSync(join(tmpdir(), 'pacn-'));
  chmodSync(dir, 0o777);
  const path = join(dir, 's.sock');
  const server = net.createServer();
  const queue: net.Socket[] = [];
  const waiters: ((s: net.Socket) => void)[] = [];
  const accepted = new Set<net.Socket>();
  server.on('connection', (s) => {
    accepted.add(s);
    s.on('error', () => {});
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(path, 0o777);
  return {
    path,
    server,
    nextConnection() {
      const s = queue.shift();
      if (s) return Promise.resolve(s);
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Connects to argv[1] and stays connected until killed, so its credentials can be read.
const CLIENT = `const s=require('net').createConnection(process.argv[1]);s.on('connect',()=>process.stdout.write('connected\\n'));s.on('error',e=>{console.error(e.message);process.exit(3)});s.on('close',()=>process.exit(0));setInterval(()=>{},1e6)`;

/** Spawns `node` (optionally through a wrapper like setpriv) connecting to path. */
export function spawnClient(
  path: string,
  opts: { wrapper?: string[]; uid?: number; gid?: number } = {},
): { child: ChildProcess; connected: Promise<void> } {
  const nodeArgs = ['-e', CLIENT, path];
  const [cmd, ...args] = opts.wrapper
    ? [...opts.wrapper, process.execPath, ...nodeArgs]
    : [process.execPath, ...nodeArgs];
  const spawnOpts: Parameters<typeof spawn>[2] = { stdio: ['ignore', 'pipe', 'pipe'] };
  if (opts.uid !== undefined) spawnOpts.uid = opts.uid;
  if (opts.gid !== undefined) spawnOpts.gid = opts.gid;
  const child = spawn(cmd!, args, spawnOpts);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const connected = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      if (String(d).includes('connected')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`client exited early with ${code}: ${stderr}`)));
    child.on('error', reject);
  });
  return { child, connected };
}

export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** useradd/groupadd fail while another process holds /etc/passwd's lock: retry briefly. */
export function withLockRetry<T>(fn: () => T): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if (attempt >= 20 || !/lock|try again/i.test(String((err as { stderr?: unknown }).stderr ?? err)))
        throw err;
      execFileSync('sleep', ['0.25']);
    }
  }
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}
