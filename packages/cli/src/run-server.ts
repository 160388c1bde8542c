import type http from 'node:http';
import type net from 'node:net';
import {
  type AdmitHook,
  createPeerServer,
  onShutdownSignals,
  type PeerServer,
  serveHttp,
} from '@peerauth/server';
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
  /** The command's own admission rule (exec's bound on children), part of the server's single decision. */
  admit?: AdmitHook;
}

/**
 * Listens with the serving commands' common settings and owns graceful shutdown: on SIGINT/SIGTERM/SIGHUP
 * it stops accepting (the socket file and the private directory go at once), lets open connections finish
 * for the drain timeout, then cuts the rest. The signal handling is the server library's own
 * (onShutdownSignals, as behind handleSignals): a signal during start-up waits for the start to finish,
 * and further signals during shutdown end the process only once the files are gone.
 */
export async function runPeerServer(
  settings: ServerSettings,
  logger: pino.Logger,
  opts: RunOptions = {},
): Promise<RunningServer> {
  const server = createPeerServer({
    ...(settings.socket !== undefined ? { path: settings.socket } : {}),
    ...(settings.modeGiven ? { mode: settings.mode } : {}),
    identity: settings.config,
    ...(settings.allowRoles ? { allowRoles: settings.allowRoles } : {}),
    logger,
    allowHalfOpen: opts.allowHalfOpen === true,
    ...(opts.admit ? { admit: opts.admit } : {}),
    // The commands read a connection's identity with peerOf(), never currentIdentity(): the per-connection
    // AsyncLocalStorage context would cost every request its async-hooks work for nothing.
    asyncContext: false,
  });
  const open = new Set<net.Socket>();
  server.on('peer', (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  if (opts.http) serveHttp(server, opts.http);

  let onSignal: ((signal: NodeJS.Signals) => void) | null = null;
  let early: NodeJS.Signals | null = null;
  const signals = onShutdownSignals((signal) => {
    if (onSignal) onSignal(signal);
    else early = signal;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(() => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // Nothing was created (a failed listen cleans up after itself); the error ends the process anyway.
    signals.remove();
    throw err;
  }
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
    opts.onStop?.();
    const timer = setTimeout(() => {
      if (open.size) logger.warn({ open: open.size }, 'drain timeout: closing the remaining connections');
      for (const socket of open) socket.destroy();
    }, settings.drainTimeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      signals.remove();
      finish();
    });
    // close() removed the socket file and the private directory synchronously.
    signals.cleanedUp();
  };
  onSignal = stop;
  if (early !== null) stop(early);

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
