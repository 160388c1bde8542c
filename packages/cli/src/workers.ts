// --workers N|auto for serve and proxy: N processes serve one listening socket.
//
// The primary is a serving process like any other: it binds the socket file (once, with every check of a
// single server), then forks N-1 workers that inherit the listening socket as fd 3, exactly as under
// systemd socket activation, and accept on it themselves: the kernel gives each connection to whichever
// process accepts first, with no hop through the primary. node:cluster's own sharing was not used: for a
// Unix socket it either binds the path in the primary by name (none of the socket file's guarantees: mode
// before reach, a private bind directory, no stale or live file replaced) or, by default, accepts every
// connection in the primary and passes its descriptor on (a second process's work per connection).
//
// One audit stream: a worker's stderr is a pipe to the primary, which alone writes to the real stderr and
// hands on only whole lines, through its own log buffer. Lines can then never interleave, whatever their
// length (a write() to a shared pipe is whole only up to PIPE_BUF, and a line with an error's stack can be
// longer; the log buffer writes many lines at once, which a lone write per line would cost again) and
// whatever stderr is (a file, a pipe, a terminal). The worker's own log buffering stays as it is.
//
// Per-uid limits: the primary holds the counts and leases slots to the workers in batches (cluster-limits.ts
// in the server package: uid-lease-table.ts on the primary, uid-lease-worker.ts in a worker), so most accepts
// need no round trip.
//
// One shutdown: a signal to the primary stops all; a worker stops when told (SIGTERM) or when the primary is
// gone (its IPC channel closes), so no worker outlives it. A worker that ends while the primary is not
// stopping is not restarted: the whole service stops, drains and exits 1 with a line naming the worker, and
// its supervisor (systemd Restart=) starts it again with every worker fresh.
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import {
  answerUidCounts,
  directLines,
  LeasedUidCounts,
  type PeerServer,
  RemoteUidCounts,
  useUidCountStore,
} from '@peerauth/server';
import type { pino } from 'pino';
import { WorkersError } from './errors.js';
import { CliError, EXIT_ERROR, EXIT_USAGE } from './exit-codes.js';

export const WORKERS_HELP =
  'processes serving the socket, sharing one audit stream and the per-uid limit; auto: one per CPU (default: 1)';

/** Set in a worker's environment by the primary; read (and removed) once at its start. */
const WORKER_ENV = 'PEERAUTH_WORKER';

export { WorkersError };

/**
 * --workers as its parser read it (flag-values.ts; absent is 1, no workers). What the workers cannot share
 * yet is refused here, before anything starts.
 */
export function parseWorkers(n: number | undefined, tls: unknown): number {
  if (n === undefined) return 1;
  if (n > 1 && tls !== undefined) {
    const message =
      '--workers with --tls-listen is not supported: the TLS listener is not shared between workers';
    throw new CliError(message, EXIT_USAGE, new WorkersError('PEERAUTH_WORKERS_UNSUPPORTED', message));
  }
  return n;
}

/** True in a process the primary forked; the first call also readies the inherited socket for the server. */
export function isWorker(): boolean {
  if (workerState !== null) return workerState;
  workerState = process.env[WORKER_ENV] === '1' && typeof process.send === 'function';
  delete process.env[WORKER_ENV];
  if (workerState) {
    // The inherited socket at fd 3, claimed for this process as systemd would (the server clears these).
    process.env.LISTEN_FDS = '1';
    process.env.LISTEN_PID = String(process.pid);
    delete process.env.LISTEN_FDNAMES;
    useUidCountStore((max) => new RemoteUidCounts(max, process));
  }
  return workerState;
}
let workerState: boolean | null = null;

/** The primary's per-uid counts, which its workers lease from; set by primaryCounts() before the server exists. */
let primaryUidCounts: LeasedUidCounts | null = null;

/** In the primary, before its server is created: its per-uid store is the one the workers lease from. */
export function primaryCounts(processes: number): void {
  useUidCountStore((max) => {
    primaryUidCounts = new LeasedUidCounts(max, processes);
    return primaryUidCounts;
  });
}

/** In a worker, once its server listens: the primary announces only when every worker is ready. */
export function workerListening(server: PeerServer): void {
  process.send?.({ peerauthWorker: 'listening' });
  // The channel carries the per-uid counts while the server runs; it must not keep a stopped worker alive.
  process.channel?.unref();
  // The primary is gone (killed, crashed): stop as a signal would, so no worker outlives it.
  process.once('disconnect', () => {
    if (!server.stopping) process.kill(process.pid, 'SIGTERM');
  });
}

export interface Workers {
  /** Resolves once every worker has ended and its last lines are written; rejects if one ended unasked. */
  readonly ended: Promise<void>;
}

/**
 * Forks `count` workers on the primary's listening socket and resolves once all of them listen. The
 * server's 'stopping' stops them; a worker that ends before it, or fails to start, closes the server.
 */
export async function startWorkers(server: PeerServer, count: number, logger: pino.Logger): Promise<Workers> {
  const fd = listeningFd(server);
  const children: ChildProcess[] = [];
  let unexpected: string | null = null;
  const stopAll = () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  server.once('stopping', stopAll);
  const forward = lineForwarder(logger);
  const readies: Promise<void>[] = [];
  const ends: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const child = fork(process.argv[1] as string, process.argv.slice(2), {
      execArgv: process.execArgv,
      env: { ...process.env, [WORKER_ENV]: '1' },
      // fd 3 is the listening socket; stderr is read here and passed on whole lines at a time.
      stdio: ['ignore', 'inherit', 'pipe', fd, 'ipc'],
    });
    children.push(child);
    if (primaryUidCounts !== null) answerUidCounts(child, primaryUidCounts);
    child.on('error', (err) => logger.error({ err, worker: child.pid }, 'worker process error'));
    const stderr = child.stderr as NodeJS.ReadableStream;
    let tail = '';
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      const text = tail + chunk;
      const end = text.lastIndexOf('\n') + 1;
      tail = text.slice(end);
      if (end > 0) forward(text.slice(0, end));
      // Bounded: output that never ends its line is passed on in pieces of at most MAX_LINE.
      if (tail.length > MAX_LINE) {
        forward(`${tail}\n`);
        tail = '';
      }
    });
    stderr.on('error', () => undefined);
    readies.push(
      new Promise<void>((resolve) => {
        const onMessage = (message: unknown) => {
          if ((message as { peerauthWorker?: string } | null)?.peerauthWorker !== 'listening') return;
          child.off('message', onMessage);
          resolve();
        };
        child.on('message', onMessage);
        child.once('exit', () => resolve());
      }),
    );
    ends.push(
      new Promise<void>((resolve) => {
        child.once('close', (code, signal) => {
          // A last line without its newline (a crash's output) still reaches the log, whole.
          if (tail !== '') forward(`${tail}\n`);
          tail = '';
          if (!server.stopping && unexpected === null) {
            unexpected = `worker ${child.pid} exited unexpectedly (${signal ? `signal ${signal}` : `status ${code}`})`;
            logger.error({ worker: child.pid, code, signal }, `${unexpected}; stopping all workers`);
            stopAll();
            server.close();
          }
          resolve();
        });
      }),
    );
  }
  await Promise.all(readies);
  return {
    ended: Promise.all(ends).then(() => {
      if (unexpected !== null)
        throw new CliError(unexpected, EXIT_ERROR, new WorkersError('PEERAUTH_WORKER_EXITED', unexpected));
    }),
  };
}

/** The descriptor of the server's listening Unix socket (its own bind, or the one systemd passed). */
function listeningFd(server: PeerServer): number {
  const fd = (server.server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the listening socket has no descriptor');
  return fd;
}

/** The longest line kept whole from a worker (an error line with its stack and causes fits many times). */
const MAX_LINE = 4 * 1024 * 1024;

// pino's JSON level field of warn (40), error (50) or fatal (60).
const URGENT_LEVEL = /"level":[4-6]\d/;

/** Whole lines from the workers, into the primary's own log stream (its buffer, else a synchronous write). */
function lineForwarder(logger: pino.Logger): (lines: string) => void {
  const direct = directLines(logger);
  // A warning or worse from a worker goes out at once, as the primary's own would (the buffer's urgent flag).
  if (direct) return (lines) => direct.write(lines, URGENT_LEVEL.test(lines));
  // The pretty logger writes synchronously: so does this, in this one process, so lines stay whole. A full
  // non-blocking stderr is retried for up to a second, as the server's own synchronous writes are.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  return (lines) => {
    let rest = Buffer.from(lines);
    let waited = 0;
    while (rest.length > 0) {
      try {
        rest = rest.subarray(fs.writeSync(2, rest));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || waited >= 1000) return;
        Atomics.wait(pause, 0, 0, 1);
        waited++;
      }
    }
  };
}
