import { type ChildProcess, spawn } from 'node:child_process';
import type net from 'node:net';
import { formatError } from '@peerauth/core-native';
import type { Identity, UnixIdentity } from '@peerauth/identity';
import type { AdmitHook } from '@peerauth/server';
import type { pino } from 'pino';
import { findExecutable } from '../command-path.js';
import { type CommonOptions, serverSettings } from '../common.js';
import { CONNECTION_MARKER } from '../descendants.js';
import { USAGE_ERROR } from '../errors.js';
import { connectionEnv, UnexportableValueError } from '../exec-env.js';
import { CliError, EXIT_USAGE } from '../exit-codes.js';
import { createLogger } from '../logger.js';
import { ChildGroups, DescendantTracker } from '../process-group.js';
import { runPeerServer } from '../run-server.js';
import { readBoundedLines } from '../stderr-lines.js';

/**
 * exec's part of the server's admission: everything that would keep a connection from its child is decided
 * there, before 'peer', so a refused connection has one audit line (rejected) and is never counted open.
 * An admitted connection's environment is kept under its socket for the 'peer' listener (`envOf`).
 */
export function execAdmission(
  maxChildren: number,
  running: () => number,
): { admit: AdmitHook; envOf: (socket: net.Socket) => Record<string, string> | undefined } {
  const envs = new WeakMap<net.Socket, Record<string, string>>();
  const admit: AdmitHook = (identity, _credentials, socket) => {
    // A child's environment carries a Unix peer's ids; any other peer has none to give it.
    if (identity.auth !== 'unix') return 'no Unix peer identity for the child';
    // A child is added synchronously in 'peer', so the count is current for the next connection.
    if (running() >= maxChildren) return `max-children (${maxChildren}) reached`;
    try {
      envs.set(socket, connectionEnv(identity));
    } catch (err) {
      if (!(err instanceof UnexportableValueError)) throw err;
      return formatError(err);
    }
    return true;
  };
  return { admit, envOf: (socket) => envs.get(socket) };
}

export interface ExecCommand {
  /** The file to run, resolved at start. */
  file: string;
  /** argv, argv[0] as the user wrote it. */
  argv: [string, ...string[]];
}

/**
 * One child per connection, the socket bridged to its stdin/stdout and the identity in its environment.
 * The child leads its own process group, which goes as a whole when the connection closes or the child
 * exits. A client that shuts down its sending side gives the child EOF on stdin and still gets everything
 * the child writes (the server is created with allowHalfOpen).
 */
export function bridge(
  socket: net.Socket,
  identity: UnixIdentity,
  env: Record<string, string>,
  command: ExecCommand,
  logger: pino.Logger,
  children: ChildGroups,
): void {
  const [argv0, ...args] = command.argv;
  const marker = children.newMarker();
  let child: ChildProcess;
  try {
    child = spawn(command.file, args, {
      argv0,
      // The marker finds the child's descendants again once they are orphaned (see descendants.ts).
      env: { ...process.env, ...env, [CONNECTION_MARKER]: marker },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    // spawn throws for some failures instead of emitting 'error': one connection fails, not the server.
    // Admitted already: its one audit line is the close; this says why, as 'error' below does.
    logger.error({ err: (err as Error).message, peerUid: identity.uid }, 'child failed to start');
    socket.destroy();
    return;
  }
  children.add(child, marker);
  const log = logger.child({
    child: child.pid,
    peerUid: identity.uid,
    user: identity.username,
    role: identity.role,
  });
  log.info({ command: argv0 }, 'child started');
  // Both pipes end their destination: the client's FIN becomes EOF on stdin, stdout's EOF becomes our FIN.
  socket.pipe(child.stdin!);
  child.stdout!.pipe(socket);
  // A child that stops reading, or a client that vanishes, must not crash the server with EPIPE.
  child.stdin!.on('error', () => {});
  socket.on('error', () => {});
  // A line at a time, each at most STDERR_LINE_BYTES: the child's output never grows the server.
  readBoundedLines(child.stderr!, {
    line: (text, truncated) =>
      log.info(truncated ? { stderr: text, truncated: true } : { stderr: text }, 'child stderr'),
    dropped: (bytes) => log.info({ droppedBytes: bytes }, 'child stderr line truncated'),
  });
  child.on('error', (err) => {
    log.error({ err: err.message }, 'child failed to start');
    socket.destroy();
  });
  child.on('exit', (code, signal) => {
    log.info({ code, signal }, 'child exited');
    // What it started in the background may still hold stdout open, and would keep the connection open.
    void children.terminate(child);
  });
  socket.on('close', () => void children.terminate(child));
}

export async function execCommand(
  command: string[],
  opts: CommonOptions & { maxChildren?: number },
): Promise<number> {
  if (command.length === 0)
    throw new CliError(
      'exec needs a command: peerauth exec -- CMD [ARGS...]',
      EXIT_USAGE,
      undefined,
      USAGE_ERROR,
    );
  const argv = command as [string, ...string[]];
  const file = findExecutable(argv[0]);
  const maxChildren = opts.maxChildren ?? 64;
  // The socket and the child's three pipes; a child may speak first, so silence is no reason to close.
  const settings = await serverSettings(opts, { fdsPerConnection: 4, idleTimeoutMs: 0 });
  const logger = await createLogger(settings.logFormat, settings.logLevel);
  // Every descendant of a child, whatever group or session it made, ends with its connection (Linux).
  const children = new ChildGroups(undefined, DescendantTracker.start());
  const { admit, envOf } = execAdmission(maxChildren, () => children.size);
  const running = await runPeerServer(settings, logger, {
    allowHalfOpen: true,
    onStop: () => void children.terminateAll(),
    admit,
  });
  running.server.on('peer', (socket: net.Socket, identity: Identity) => {
    const env = envOf(socket);
    // The admit hook prepared every admitted connection's environment; without one, nothing runs.
    if (identity.auth !== 'unix' || env === undefined) {
      logger.error({ role: identity.role }, 'admitted connection without a prepared environment; closed');
      socket.destroy();
      return;
    }
    bridge(socket, identity, env, { file, argv }, logger, children);
  });
  if (running.server.listening) {
    const path = String(running.server.address());
    process.stdout.write(`peerauth exec listening on ${path}: each connection runs ${command.join(' ')}\n`);
  }
  await running.stopped;
  // Groups still ending (SIGTERM ignored) have the grace period, then SIGKILL: shutdown is bounded.
  await children.terminateAll();
  children.releaseAll();
  return 0;
}
