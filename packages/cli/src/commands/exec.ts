import { type ChildProcess, spawn } from 'node:child_process';
import type net from 'node:net';
import readline from 'node:readline';
import type { Identity } from '@peerauth/identity';
import type { pino } from 'pino';
import { type CommonOptions, serverSettings } from '../common.js';
import { CliError } from '../exit-codes.js';
import { identityFields } from '../identity-view.js';
import { createLogger } from '../logger.js';
import { runPeerServer } from '../run-server.js';

const KILL_GRACE_MS = 2000;

export function identityEnv(id: Identity): Record<string, string> {
  const f = identityFields(id);
  return {
    PEERAUTH_UID: f.uid,
    PEERAUTH_GID: f.gid,
    PEERAUTH_PID: f.pid,
    PEERAUTH_USER: f.user,
    PEERAUTH_PERSON: f.person,
    PEERAUTH_ROLE: f.role,
    PEERAUTH_SPIFFE_ID: f.spiffeId,
  };
}

function terminate(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  t.unref();
  child.once('exit', () => clearTimeout(t));
}

function parseMaxChildren(value: string | undefined): number {
  const n = Number(value ?? '64');
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`--max-children must be a whole number >= 1, got "${value}"`);
  return n;
}

/** One child per connection, the socket bridged to its stdin/stdout and the identity in its environment. */
export function bridge(
  socket: net.Socket,
  identity: Identity,
  command: string[],
  logger: pino.Logger,
  children: Set<ChildProcess>,
): void {
  const [cmd, ...args] = command as [string, ...string[]];
  const child = spawn(cmd, args, {
    env: { ...process.env, ...identityEnv(identity) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const log = logger.child({
    child: child.pid,
    uid: identity.uid,
    user: identity.username,
    role: identity.role,
  });
  log.info({ command: cmd }, 'child started');
  socket.pipe(child.stdin!);
  child.stdout!.pipe(socket);
  // A child that stops reading, or a client that vanishes, must not crash the server with EPIPE.
  child.stdin!.on('error', () => {});
  socket.on('error', () => {});
  readline
    .createInterface({ input: child.stderr! })
    .on('line', (line) => log.info({ stderr: line }, 'child stderr'));
  child.on('error', (err) => {
    log.error({ err: err.message }, 'child failed to start');
    children.delete(child);
    socket.destroy();
  });
  child.on('exit', (code, signal) => {
    children.delete(child);
    log.info({ code, signal }, 'child exited');
    socket.end();
  });
  socket.on('close', () => terminate(child));
}

export async function execCommand(
  command: string[],
  opts: CommonOptions & { maxChildren?: string },
): Promise<number> {
  if (command.length === 0) throw new CliError('exec needs a command: peerauth exec -- CMD [ARGS...]', 2);
  const maxChildren = parseMaxChildren(opts.maxChildren);
  const settings = await serverSettings(opts);
  const logger = await createLogger(settings.logFormat, settings.logLevel);
  const children = new Set<ChildProcess>();
  const running = await runPeerServer(settings, logger, {
    onStop: () => {
      for (const child of children) terminate(child);
    },
  });
  running.server.on('peer', (socket: net.Socket, identity: Identity) => {
    if (children.size >= maxChildren) {
      logger.warn(
        {
          event: 'peerauth.connection',
          decision: 'rejected',
          peerUid: identity.uid,
          peerPid: identity.pid,
          username: identity.username,
          role: identity.role,
          reason: `max-children (${maxChildren}) reached`,
        },
        'connection refused: too many children',
      );
      socket.destroy();
      return;
    }
    bridge(socket, identity, command, logger, children);
  });
  const path = String(running.server.address());
  process.stdout.write(`peerauth exec listening on ${path}: each connection runs ${command.join(' ')}\n`);
  await running.stopped;
  return 0;
}
