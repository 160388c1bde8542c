import type http from 'node:http';
import type net from 'node:net';
import { createPeerServer, type PeerServer, serveHttp } from '@peerauth/server';
import type { pino } from 'pino';
import type { ServerSettings } from './common.js';

export interface RunningServer {
  server: PeerServer;
  /** True once shutdown began: handlers answer with `Connection: close` from then on. */
  readonly stopping: boolean;
  /** Resolves when the server has shut down (after a signal or stop()). */
  readonly stopped: Promise<void>;
  stop(reason: string): void;
}

export interface RunOptions {
  http?: http.Server;
  /** Called once when shutdown begins (exec kills its children here). */
  onStop?: () => void;
  /** Keep answering a client that shut down its sending side (exec and proxy --raw forward the half-close). */
  allowHalfOpen?: boolean;
}

/**
 * Listens with the serving commands' common settings and owns graceful shutdown: on SIGINT/SIGTERM it
 * stops accepting (the socket file goes at once), lets open connections finish for the drain timeout,
 * then cuts the rest.
 */
export async function runPeerServer(
  settings: ServerSettings,
  logger: pino.Logger,
  opts: RunOptions = {},
): Promise<RunningServer> {
  const server = createPeerServer({
    ...(settings.socket !== undefined ? { path: settings.socket } : {}),
    mode: settings.mode,
    identity: settings.config,
    ...(settings.allowRoles ? { allowRoles: settings.allowRoles } : {}),
    logger,
    allowHalfOpen: opts.allowHalfOpen === true,
  });
  const open = new Set<net.Socket>();
  server.on('peer', (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  if (opts.http) serveHttp(server, opts.http);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err: Error) => logger.error({ err }, 'server error'));

  let stopping = false;
  let finish!: () => void;
  const stopped = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, open: open.size, drainTimeoutMs: settings.drainTimeoutMs }, 'shutting down');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    opts.onStop?.();
    const timer = setTimeout(() => {
      if (open.size) logger.warn({ open: open.size }, 'drain timeout: closing the remaining connections');
      for (const socket of open) socket.destroy();
    }, settings.drainTimeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      finish();
    });
  };
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  return {
    server,
    get stopping() {
      return stopping;
    },
    stopped,
    stop,
  };
}

/** What a serving command prints on start: where it listens and a line to try. */
export function announce(server: PeerServer, what: string): void {
  const path = String(server.address());
  // One write, so a reader never sees the first line without the second.
  process.stdout.write(
    `peerauth ${what} listening on ${path}\ntry: curl --unix-socket ${path} http://localhost/whoami\n`,
  );
}
