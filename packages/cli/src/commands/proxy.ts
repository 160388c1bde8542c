import http from 'node:http';
import net from 'node:net';
import type { Identity } from '@peerauth/identity';
import { peerOf } from '@peerauth/server';
import type { pino } from 'pino';
import { type CommonOptions, serverSettings } from '../common.js';
import { forwardHeaders, responseHeaders } from '../forwarded-headers.js';
import { createLogger } from '../logger.js';
import { announce, type RunningServer, runPeerServer } from '../run-server.js';
import { connectOptions, parseUpstream, type Upstream } from '../upstream.js';

function badGateway(res: http.ServerResponse, upstream: Upstream, err: Error): void {
  const text = `peerauth proxy: upstream ${upstream.label} is unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`;
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  res.writeHead(502, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function createProxyHandler(
  upstream: Upstream,
  logger: pino.Logger,
  running: () => RunningServer | undefined,
): {
  request: http.RequestListener;
  upgrade: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void;
} {
  // Keep-alive to the upstream: one TCP/Unix connection serves many forwarded requests.
  const agent = new http.Agent({ keepAlive: true });
  const target =
    upstream.kind === 'unix'
      ? { socketPath: upstream.socketPath }
      : { host: upstream.host, port: upstream.port };

  const request: http.RequestListener = (req, res) => {
    const identity = peerOf(req) as Identity;
    if (running()?.stopping) res.setHeader('connection', 'close');
    const up = http.request({
      ...target,
      agent,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req.rawHeaders, identity) as unknown as http.OutgoingHttpHeaders,
      setHost: false,
    });
    up.on('response', (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders(upRes.rawHeaders));
      upRes.pipe(res);
      upRes.on('error', (err) => res.destroy(err));
    });
    up.on('error', (err) => {
      logger.warn(
        { upstream: upstream.label, err: err.message, peerUid: identity.uid },
        'upstream request failed',
      );
      badGateway(res, upstream, err);
    });
    // The client going away aborts the upstream request instead of leaving it running.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };

  const upgrade = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const identity = peerOf(socket) as Identity;
    const conn = net.connect(connectOptions(upstream));
    conn.on('connect', () => {
      const raw = forwardHeaders(req.rawHeaders, identity, true);
      let headText = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
      for (let i = 0; i < raw.length; i += 2) headText += `${raw[i]}: ${raw[i + 1]}\r\n`;
      conn.write(`${headText}\r\n`);
      if (head.length) conn.write(head);
      socket.pipe(conn).pipe(socket);
    });
    conn.on('error', (err) => {
      logger.warn(
        { upstream: upstream.label, err: err.message, peerUid: identity.uid },
        'upstream upgrade failed',
      );
      if (socket.writable)
        socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
    socket.on('error', () => conn.destroy());
    socket.on('close', () => conn.destroy());
  };
  return { request, upgrade };
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
  opts: CommonOptions & { upstream: string; raw?: boolean },
): Promise<number> {
  const upstream = parseUpstream(opts.upstream);
  const settings = await serverSettings(opts);
  const logger = await createLogger(settings.logFormat, settings.logLevel);
  let running: RunningServer | undefined;
  if (opts.raw) {
    running = await runPeerServer(settings, logger, { allowHalfOpen: true });
    running.server.on('peer', (socket: net.Socket) => pipeRaw(socket, upstream, logger));
  } else {
    const handlers = createProxyHandler(upstream, logger, () => running);
    const httpServer = http.createServer(handlers.request);
    httpServer.on('upgrade', handlers.upgrade);
    running = await runPeerServer(settings, logger, { http: httpServer });
  }
  announce(running.server, `proxy -> ${upstream.label}`);
  await running.stopped;
  return 0;
}
