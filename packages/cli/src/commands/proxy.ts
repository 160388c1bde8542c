import http from 'node:http';
import net from 'node:net';
import { peerOf } from '@peerauth/server';
import type { pino } from 'pino';
import { afterAnswer } from '../answer-written.js';
import { CLOSING_IDLE_MS, refuseResponse as refuse } from '../client-answers.js';
import { type CommonOptions, serverSettings } from '../common.js';
import { responseHeaders } from '../forwarded-headers.js';
import { DEFAULT_HEADER_POLICY, type HeaderPolicy, headerPolicy } from '../header-namespace.js';
import { peerLogFields } from '../identity-view.js';
import { createLogger } from '../logger.js';
import { clientErrorHandler } from '../parse-errors.js';
import { afterEarlierAnswers, onStop, trackAnswer } from '../pipeline-order.js';
import {
  admitForwarding,
  type ClientConnection,
  clientConnections,
  holdPipelined,
  spoil,
} from '../proxy-connections.js';
import { createUpgradeHandler } from '../proxy-upgrade.js';
import { hasBody, type Refusal, requestFraming, upstreamHeaders } from '../request-framing.js';
import { announce, type RunningServer, runPeerServer } from '../run-server.js';
import { DEFAULT_UPGRADES } from '../upgrade-protocols.js';
import { connectOptions, type Upstream, upstreamHost } from '../upstream.js';
import { type BodilessCallbacks, sendBodiless } from '../upstream-dispatch.js';

function badGateway(res: http.ServerResponse, upstream: Upstream, err: Error): void {
  const text = `peerauth proxy: upstream ${upstream.label} is unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`;
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  // An error the proxy answers itself ends the connection (see ClientConnection.haltedAt).
  res.writeHead(502, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  res.end(text);
}

function clientLogFields(socket: net.Socket): Record<string, unknown> {
  const identity = peerOf(socket);
  return identity ? peerLogFields(identity) : {};
}

/** Methods a proxy may send again when a reused upstream connection closed before any answer (RFC 9110 9.2.2). */
const RETRIABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * One request of a client connection, from its parse to the end of its turn upstream: what the bodiless
 * path needs (BodilessCallbacks) as methods of one object rather than a closure each, since this is made
 * for every request.
 */
class Exchange implements BodilessCallbacks {
  readonly retriable: boolean;
  /** The forwarded header list, once upstreamHeaders made it. */
  headers: string[] = [];
  /** Ends the request's turn; set when the turn begins. */
  done: () => void = noop;

  constructor(
    private readonly conn: ClientConnection,
    private readonly seq: number,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly logger: pino.Logger,
    private readonly upstream: Upstream,
  ) {
    this.retriable = RETRIABLE.has(req.method ?? '');
  }

  /** The turn of a bodiless request (UpstreamSession.turn's `start`). */
  readonly start = (done: () => void): void => {
    this.done = done;
    // The client connection is closing (see afterAnswer), or an earlier answer was an error: its later
    // requests are never forwarded.
    if (this.halted() || !this.req.socket.writable) {
      done();
      return;
    }
    sendBodiless(this.conn.session, this.req, this.res, this.headers, this);
  };

  halt(): void {
    this.conn.haltedAt = Math.min(this.conn.haltedAt, this.seq);
  }

  halted(): boolean {
    return this.seq > this.conn.haltedAt;
  }

  refused({ status, reason }: Refusal): void {
    this.halt();
    this.logger.warn({ ...peerLogFields(this.conn.identity), status, reason }, 'request refused');
    refuse(this.res, status, reason);
  }

  failed(err: Error): void {
    this.halt();
    this.logger.warn(
      { upstream: this.upstream.label, err: err.message, ...peerLogFields(this.conn.identity) },
      'upstream request failed',
    );
    badGateway(this.res, this.upstream, err);
  }

  notRelayable(err: Error): void {
    this.halt();
    this.logger.warn(
      { upstream: this.upstream.label, err: err.message, ...peerLogFields(this.conn.identity) },
      'upstream response not relayable',
    );
    badGateway(this.res, this.upstream, err);
  }
}

function noop(): void {}

export function createProxyHandler(
  upstream: Upstream,
  logger: pino.Logger,
  allowedUpgrades: ReadonlySet<string> = new Set(DEFAULT_UPGRADES),
  policy: HeaderPolicy = DEFAULT_HEADER_POLICY,
): {
  request: http.RequestListener;
  upgrade: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void;
  clientError: (err: Error, socket: net.Socket) => void;
} {
  const target =
    upstream.kind === 'unix'
      ? { socketPath: upstream.socketPath }
      : { host: upstream.host, port: upstream.port };
  const connectionOf = clientConnections(logger, policy, upstreamHost(upstream), upstream);

  const forward: http.RequestListener = (req, res) => {
    const conn = connectionOf(req.socket);
    if (!conn) return;
    holdPipelined(conn, req.socket, res);
    const exchange = new Exchange(conn, ++conn.requests, req, res, logger, upstream);
    // Pipelined after a request the proxy answered with an error: never forwarded, and left unanswered
    // (node:http closes the connection once that error answer, which says close, is written).
    if (exchange.halted()) return;
    const decision = requestFraming(req);
    if (!decision.ok) return exchange.refused(decision);
    const forwarded = upstreamHeaders(conn, req, decision.framing);
    if (!forwarded.ok) return exchange.refused(forwarded);
    const { framing } = decision;
    // undici writes only a target that is a path: `OPTIONS *` (and an absolute URL) goes through node:http
    // too, on a connection of its own.
    if (hasBody(framing) || req.url?.[0] !== '/') {
      // Set when the client's connection broke inside this request's body (see parse-errors.ts), which can
      // happen while the request still waits for its turn: then it never goes upstream at all.
      let stopped = false;
      let stopUpstream: (() => void) | null = null;
      onStop(req, () => {
        stopped = true;
        stopUpstream?.();
      });
      conn.session.turn(true, (done) => {
        if (exchange.halted() || stopped || !req.socket.writable) done();
        else
          stopUpstream = sendWithBody(
            req,
            res,
            conn,
            forwarded.headers,
            (err) => exchange.failed(err),
            () => exchange.halt(),
            done,
          );
      });
    } else {
      exchange.headers = forwarded.headers;
      conn.session.turn(false, exchange.start);
    }
  };

  /**
   * A request with a body (or a target undici will not write), on a node:http connection of its own: the
   * head goes at once, the body is piped as it comes, and the connection closes after the answer.
   * Returns how to drop it when the client's connection breaks inside its body.
   */
  function sendWithBody(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    conn: ClientConnection,
    headers: string[],
    failed: (err: Error) => void,
    halt: () => void,
    done: () => void,
  ): () => void {
    const { agent, identity } = conn;
    // Set when the client's connection broke inside this request's body: the upstream request is dropped
    // and the refusal, not the upstream's answer, goes to the client.
    let stopped = false;
    const up = http.request({
      ...target,
      agent,
      method: req.method,
      path: req.url,
      headers: headers as unknown as http.OutgoingHttpHeaders,
      setHost: false,
    });
    // Its turn ends when its upstream connection is closed and its answer written (or abandoned).
    let pending = 2;
    const half = () => {
      if (--pending === 0) done();
    };
    up.once('close', half);
    afterAnswer(res, half);
    // It asked the upstream to close after this request: the connection is never pooled.
    up.once('socket', spoil);
    up.on('response', (upRes) => {
      if (stopped) {
        upRes.resume();
        return;
      }
      // An answer before the whole body went up: the upstream may leave the rest unread.
      if (!up.writableFinished) spoil(up.socket);
      upRes.on('error', (err) => res.destroy(err));
      try {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders(upRes.rawHeaders));
      } catch (err) {
        // node:http's writer refuses what its parser let through (a reason phrase it will not write): the
        // upstream's answer cannot be relayed faithfully.
        spoil(up.socket);
        up.destroy();
        halt();
        logger.warn(
          { upstream: upstream.label, err: (err as Error).message, ...peerLogFields(identity) },
          'upstream response not relayable',
        );
        return badGateway(res, upstream, err as Error);
      }
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      spoil(up.socket);
      if (!stopped) failed(err);
    });
    // The client going away aborts the upstream request instead of leaving it running.
    res.on('close', () => {
      if (!res.writableFinished) {
        spoil(up.socket);
        up.destroy();
      }
    });
    // The head goes at once, not with the first body bytes: the upstream may answer (or refuse) early.
    up.flushHeaders();
    req.pipe(up);
    return () => {
      stopped = true;
      spoil(up.socket);
      up.destroy();
    };
  }

  // A throw here would escape into node:http's parser callback and end the process for every user: what
  // node:http's client refuses of a request its server accepted is refused instead, with a log line.
  const request: http.RequestListener = (req, res) => {
    trackAnswer(req, res);
    try {
      forward(req, res);
    } catch (err) {
      const conn = connectionOf(req.socket);
      if (conn) conn.haltedAt = Math.min(conn.haltedAt, conn.requests);
      logger.warn({ err: (err as Error).message, ...clientLogFields(req.socket) }, 'request refused');
      if (res.headersSent) res.destroy();
      else refuse(res, 400, 'the request cannot be forwarded');
    }
  };
  const upgrade = createUpgradeHandler(target, upstream, logger, connectionOf, allowedUpgrades);
  return {
    request,
    clientError: clientErrorHandler(logger, clientLogFields),
    upgrade: (req, socket, head) => {
      // node:http hands the socket over at the upgrade request while answers to requests pipelined before
      // it may still be on their way: they are written first, in order, then the upgrade's own answer.
      socket.pause();
      const onIdle = () => socket.destroy();
      socket.setTimeout(CLOSING_IDLE_MS, onIdle);
      afterEarlierAnswers(socket, () => {
        socket.setTimeout(0);
        socket.off('timeout', onIdle);
        if (socket.destroyed) return;
        if (!socket.writable) {
          socket.destroy();
          return;
        }
        try {
          upgrade(req, socket, head);
        } catch (err) {
          logger.warn({ err: (err as Error).message, ...clientLogFields(socket) }, 'upgrade refused');
          socket.destroy();
        }
      });
    },
  };
}

/**
 * --raw: after the policy check, bytes go through unchanged in both directions, and so does a half-close:
 * the client's FIN reaches the upstream, and the upstream's answer still reaches the client (and the
 * other way round). The connection closes once both directions have ended.
 */
function pipeRaw(socket: net.Socket, upstream: Upstream, logger: pino.Logger): void {
  const conn = net.connect({ ...connectOptions(upstream), allowHalfOpen: true });
  socket.pipe(conn).pipe(socket);
  conn.on('error', (err) => {
    logger.warn({ upstream: upstream.label, err: err.message }, 'raw upstream connection failed');
    socket.destroy();
  });
  socket.on('error', () => conn.destroy());
  socket.on('close', () => conn.destroy());
}

export async function proxyCommand(
  opts: CommonOptions & { upstream: Upstream; raw?: boolean; allowUpgrade?: ReadonlySet<string> },
): Promise<number> {
  const { upstream } = opts;
  const allowedUpgrades = opts.allowUpgrade ?? new Set(DEFAULT_UPGRADES);
  // Each connection holds its client's socket and one to the upstream.
  const settings = await serverSettings(opts, { fdsPerConnection: 2, idleTimeoutMs: opts.raw ? 0 : 10_000 });
  const logger = await createLogger(settings.logFormat, settings.logLevel);
  let running: RunningServer | undefined;
  if (opts.raw) {
    running = await runPeerServer(settings, logger, { allowHalfOpen: true });
    running.server.on('peer', (socket: net.Socket) => pipeRaw(socket, upstream, logger));
  } else {
    const handlers = createProxyHandler(
      upstream,
      logger,
      allowedUpgrades,
      headerPolicy(settings.config.proxy),
    );
    const httpServer = http.createServer(handlers.request);
    httpServer.on('upgrade', handlers.upgrade);
    httpServer.on('clientError', handlers.clientError);
    // A client may shut down its sending side right after a complete request (`printf … | socat`,
    // `nc -N`) and wait for the answer. node:http's default aborts every request in flight when the
    // client's FIN arrives, and the proxy's answers are never in by then; with half-open sockets it marks
    // the last response instead and ends the connection once it is written.
    (httpServer as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    running = await runPeerServer(settings, logger, {
      http: httpServer,
      allowHalfOpen: true,
      admit: admitForwarding,
    });
  }
  announce(
    running.server,
    `proxy -> ${upstream.label}`,
    '/',
    `   # forwarded to ${upstream.label}${opts.raw ? ' as raw bytes' : ' with your identity in X-Peerauth-* headers'}`,
  );
  await running.stopped;
  return 0;
}
