import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Identity, UnixIdentity, UserDirectory } from '@peerauth/identity';
import { runCommand } from '../../../test-fixtures/run.js';
import { tempDir } from '../../../test-fixtures/temp-dir.js';

export { type LogRecord, recordingLogger, silentLogger } from '../../../test-fixtures/logger.js';
export { removeDir } from '../../../test-fixtures/temp-dir.js';
export { waitFor } from '../../../test-fixtures/wait-for.js';

/** A private temp dir for socket paths. */
/** A Unix socket peer's identity; anything else fails the test that asked. */
export function unix(identity: Identity | undefined): UnixIdentity {
  if (identity?.auth !== 'unix')
    throw new Error(`expected a Unix peer identity, got ${JSON.stringify(identity)}`);
  return identity;
}

export function makeTempDir(prefix = 'pasrv-'): string {
  return tempDir(prefix);
}

export function listenOn(server: net.Server, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Leaves a socket file nobody listens on: hard-link a live socket, then close the server. */
export async function makeStaleSocket(socketPath: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(path.dirname(socketPath), '.stale-'));
  const server = net.createServer();
  await listenOn(server, path.join(dir, 's'));
  fs.linkSync(path.join(dir, 's'), socketPath);
  await closeServer(server);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Connects and resolves with 'connected' | error code. */
export function tryConnect(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve('connected');
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A static directory that counts calls and answers after a delay, like a slow NSS backend. */
export function countingDirectory(
  users: Record<number, { name: string; gid: number }>,
  delayMs = 20,
): UserDirectory & { userCalls: number; groupCalls: number; failNext: boolean } {
  const dir = {
    userCalls: 0,
    groupCalls: 0,
    failNext: false,
    async userByUid(uid: number) {
      dir.userCalls++;
      await new Promise((r) => setTimeout(r, delayMs));
      if (dir.failNext) {
        dir.failNext = false;
        throw new Error('directory unavailable');
      }
      return users[uid] ?? null;
    },
    async groupsOf(_name: string, gid: number) {
      dir.groupCalls++;
      await new Promise((r) => setTimeout(r, delayMs));
      return [{ gid, name: `g${gid}` }];
    },
  };
  return dir;
}

/** A client (run as another user) that prints whatever the server sends, then "|EOF", or "ERR <code>". */
export const PRINT_CLIENT = `
const c = require('node:net').connect(process.argv[1]);
let d = '';
c.on('data', (x) => { d += x; });
c.on('close', () => { process.stdout.write(d + '|EOF'); });
c.on('error', (e) => { process.stdout.write('ERR ' + e.code); c.destroy(); });
`;

/** Runs a command, resolves with its stdout (rejects with stderr on a non-zero exit). */
export async function run(
  command: string,
  args: string[],
  options: { uid?: number; gid?: number; timeoutMs?: number } = {},
): Promise<string> {
  const r = await runCommand(command, args, { ...options, timeoutMs: options.timeoutMs ?? 20_000 });
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

/** setpriv prefix that runs the rest of the command with exactly these ids and supplementary groups. */
export function asUser(uid: number, gid: number, groups: number[]): string[] {
  return [
    '--reuid',
    String(uid),
    '--regid',
    String(gid),
    groups.length ? `--groups=${groups.join(',')}` : '--clear-groups',
    '--',
  ];
}
