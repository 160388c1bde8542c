// What a refused caller is told. By default nothing: the connection is closed. A server whose callers
// speak HTTP (`refusal: 'http'`) answers first with a short 403 that names the class of the refusal and
// nothing of the policy (no role names, no config), so that curl shows "403" instead of "Couldn't connect".
import type net from 'node:net';

/** Why a connection was refused, as a caller may be told. */
export type RefusalClass =
  | 'peer credentials unavailable'
  | 'identity unknown'
  | 'role not allowed'
  | 'connection limit reached'
  | 'refused by policy';

/** Bounds on a refused caller: what it may still send (its request) and how long it may take to leave. */
const DRAIN_BYTES = 64 * 1024;
const DRAIN_MS = 2000;

function ignore(): void {}

/**
 * Writes the 403 and ends the connection. What the client already sent is read and dropped, within
 * bounds, so that it reads the answer rather than a reset caused by unread data; then the socket goes.
 */
export function refuseWithHttp(socket: net.Socket, why: RefusalClass): void {
  socket.on('error', ignore);
  const body = `peerauth: connection refused (${why})\n`;
  socket.end(
    'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > DRAIN_BYTES) socket.destroy();
  });
  socket.once('end', () => socket.destroy());
  // A fixed deadline, not an inactivity timeout: a client trickling bytes must not keep the descriptor.
  const deadline = setTimeout(() => socket.destroy(), DRAIN_MS);
  deadline.unref();
  socket.once('close', () => clearTimeout(deadline));
  socket.resume();
}
