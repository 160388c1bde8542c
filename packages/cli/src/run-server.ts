import type http from 'node:http';
import { type AdmitHook, createPeerServer, type PeerServer, serveHttp } from '@peerauth/server';
import type { pino } from 'pino';
import type { ServerSettings } from './common.js';
import { isWorker, primaryCounts, startWorkers, type Workers, workerListening } from './workers.js';

export interface RunningServer {
  server: PeerServer;
  /** Resolves when the server has shut down (after a signal). */
  readonly stopped: Promise<void>;
}

export interface RunOptions {
  http?: http.Server;
  /** Called once when shutdown begins (exec kills its children here): a 'stopping' listener. */
  onStop?: () => void;
  /** Keep answering a client that shut down its sending side (exec and proxy --raw forward the half-close). */
  allowHalfOpen?: boolean;
  /** The command's own admission rule (exec's bound and environment, the proxy's headers), part of the server's single decision. */
  admit?: AdmitHook;
}

/**
 * Listens with the serving commands' common settings. Shutdown is the server's own (handleSignals 'close'):
 * on SIGINT/SIGTERM/SIGHUP it stops accepting (the socket file and the private directory go at once), lets
 * open connections finish for the drain timeout, then cuts the rest; a signal during start-up waits for the
 * start, and further signals during shutdown end the process only once the files are gone. The command
 * returns once the server has closed, and the process ends with status 0.
 */
export async function runPeerServer(
  settings: ServerSettings,
  logger: pino.Logger,
  opts: RunOptions = {},
): Promise<RunningServer> {
  // A worker serves the socket its primary bound (inherited as fd 3); a primary's per-uid counts are the
  // ones its workers ask (workers.ts).
  const worker = isWorker();
  const primary = !worker && settings.workers > 1;
  if (primary) primaryCounts(settings.workers);
  const server = createPeerServer({
    ...(settings.socket !== undefined ? { path: settings.socket } : {}),
    ...(settings.modeGiven ? { mode: settings.mode } : {}),
    identity: settings.config,
    ...(settings.allowRoles ? { allowRoles: settings.allowRoles } : {}),
    logger,
    allowHalfOpen: opts.allowHalfOpen === true,
    ...(opts.admit ? { admit: opts.admit } : {}),
    // Callers of an HTTP server (serve, proxy) are told a refusal with a short 403; others are closed.
    ...(opts.http ? { refusal: 'http' as const } : {}),
    // The commands read a connection's identity with peerOf(), never currentIdentity(): the per-connection
    // AsyncLocalStorage context would cost every request its async-hooks work for nothing.
    asyncContext: false,
    handleSignals: 'close',
    drainTimeoutMs: settings.drainTimeoutMs,
    ...definedOnly(settings.connections),
    ...(settings.tls ? { tls: settings.tls } : {}),
    ...(worker ? { listenFds: true } : {}),
  });
  if (opts.onStop) server.once('stopping', opts.onStop);
  if (opts.http) serveHttp(server, opts.http);
  const stopped = new Promise<void>((resolve) => server.once('close', () => resolve()));
  // A signal during start-up closes the server before it announces 'listening': then there is nothing to run.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => {
      server.off('error', reject);
      resolve();
    });
    void stopped.then(resolve);
  });
  server.on('error', (err: Error) => logger.error({ err }, 'server error'));
  if (worker && server.listening) workerListening(server);
  if (!primary || !server.listening) return { server, stopped };
  let workers: Workers;
  try {
    workers = await startWorkers(server, settings.workers - 1, logger);
  } catch (err) {
    server.close();
    await stopped;
    throw err;
  }
  // Done once this server has drained and every worker has ended with its last lines written.
  const all = Promise.allSettled([stopped, workers.ended]).then(([, ended]) => {
    if (ended.status === 'rejected') throw ended.reason;
  });
  return { server, stopped: all };
}

/** The settings that are set: the server's options take absent, not undefined, for their defaults. */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * What a serving command prints on start: where it listens and a line to try. `tryPath` and `note` (proxy)
 * replace serve's own /whoami, which only serve answers, with a request that says where it goes.
 */
export function announce(server: PeerServer, what: string, tryPath = '/whoami', note = ''): void {
  // The primary speaks for its workers.
  if (!server.listening || isWorker()) return;
  const address = server.address();
  // A TCP socket handed over by systemd: host:port, and a curl line to match.
  if (address !== null && typeof address === 'object') {
    const where = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    process.stdout.write(
      `peerauth ${what} listening on ${where}\ntry: curl http://${where}${tryPath}${note}\n`,
    );
    return;
  }
  const path = String(address);
  const tls = server.tlsAddress();
  const host = tls && (tls.family === 'IPv6' ? `[${tls.address}]` : tls.address);
  // One write, so a reader never sees the first line without the others.
  process.stdout.write(
    `peerauth ${what} listening on ${path}\ntry: curl --unix-socket ${path} http://localhost${tryPath}${note}\n` +
      (tls ? `and with mutual TLS (X.509-SVIDs) on ${host}:${tls.port}\n` : ''),
  );
}
