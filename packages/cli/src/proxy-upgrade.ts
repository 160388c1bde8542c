import http from 'node:http';
import type net from 'node:net';
import type { pino } from 'pino';
import { CLOSING_IDLE_MS, closeAfterFlush, head, refuseOnSocket as refuse } from './client-answers.js';
import { responseHeaders } from './forwarded-headers.js';
import { peerLogFields } from './identity-view.js';
import { type ClientConnection, guardSocket } from './proxy-connections.js';
import { requestFraming, upstreamHeaders } from './request-framing.js';
import { allowedOffer } from './upgrade-protocols.js';
import type { Upstream } from './upstream.js';

/**
 * Handles a request carrying Upgrade. The request goes upstream as an ordinary request (stamped, on a
 * connection of its own), offering only the `allowed` protocols the client listed; bytes flow raw in both directions only once the upstream answers 101. Any other
 * answer is relayed as a plain response and the client connection is closed, so nothing the client sent
 * after the upgrade request ever reaches an upstream parser unfiltered.
 */
export function createUpgradeHandler(
  target: { socketPath: string } | { host: string; port: number },
  upstream: Upstream,
  logger: pino.Logger,
  connectionOf: (socket: net.Socket) => ClientConnection | null,
  allowed: ReadonlySet<string>,
): (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void {
  return (req, socket, early) => {
    const conn = connectionOf(socket);
    if (!conn) return;
    socket.pause();
    const decision = requestFraming(req);
    if (!decision.ok) return refuse(socket, decision.status, decision.reason);
    // The parser stops at the end of the upgrade request's head, so a body would have to be framed by hand;
    // handshakes carry none.
    if (
      decision.framing.kind !== 'none' &&
      !(decision.framing.kind === 'length' && decision.framing.length === 0)
    )
      return refuse(socket, 400, 'an upgrade request may not carry a body');
    // Only allowed protocols are offered upstream. With none left the request goes up as an ordinary one
    // (as nginx sends every request unless told otherwise), its answer is relayed and the connection closes.
    const offer = allowedOffer(req.headers.upgrade, allowed);
    const upgrading = offer.length > 0;
    if (!upgrading)
      logger.info(
        { upgrade: req.headers.upgrade, ...peerLogFields(conn.identity) },
        'upgrade not allowed: forwarded as an ordinary request',
      );
    const forwarded = upstreamHeaders(conn, req, { kind: 'none' }, upgrading ? offer.join(', ') : undefined);
    if (!forwarded.ok) return refuse(socket, forwarded.status, forwarded.reason);
    if (!upgrading) forwarded.headers.push('Connection', 'close');

    const up = http.request({
      ...target,
      agent: false,
      method: req.method,
      path: req.url,
      headers: forwarded.headers as unknown as http.OutgoingHttpHeaders,
      setHost: false,
    });
    // The upgrade's own connection, never pooled, still needs an error listener once node:http lets go of it.
    up.on('socket', guardSocket);
    up.end();
    // Without an 'upgrade' listener node:http destroys a connection answered with 101: an upstream that
    // switches protocols unasked gets a 502, not a tunnel.
    let answered = false;
    if (upgrading)
      up.on('upgrade', (res, upSocket, upHead) => {
        answered = true;
        socket.write(head(res.statusCode ?? 101, res.statusMessage ?? '', res.rawHeaders));
        if (upHead.length) socket.write(upHead);
        if (early.length) upSocket.write(early);
        upSocket.on('error', () => socket.destroy());
        // The upstream's side is gone for good: flush what it sent and let go of the client.
        upSocket.on('close', () => closeAfterFlush(socket));
        socket.on('close', () => upSocket.destroy());
        socket.pipe(upSocket).pipe(socket);
        socket.resume();
      });
    up.on('response', (res) => {
      answered = true;
      socket.write(
        head(
          res.statusCode ?? 502,
          res.statusMessage ?? '',
          responseHeaders(res.rawHeaders),
          'Connection: close\r\n',
        ),
      );
      socket.setTimeout(CLOSING_IDLE_MS, () => socket.destroy());
      res.pipe(socket, { end: false });
      res.on('end', () => closeAfterFlush(socket));
      res.on('error', () => socket.destroy());
    });
    up.on('error', (err) => {
      logger.warn(
        { upstream: upstream.label, err: err.message, ...peerLogFields(conn.identity) },
        'upstream upgrade failed',
      );
      if (answered || !socket.writable) socket.destroy();
      else {
        answered = true;
        refuse(socket, 502, `upstream ${upstream.label} is unreachable`);
      }
    });
    // A 101 nobody asked for ends the upstream request with neither 'response' nor 'error'.
    up.on('close', () => {
      if (answered || !socket.writable) return;
      answered = true;
      logger.warn(
        { upstream: upstream.label, ...peerLogFields(conn.identity) },
        'upstream switched protocols unasked',
      );
      refuse(socket, 502, `upstream ${upstream.label} switched protocols unasked`);
    });
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
  };
}
