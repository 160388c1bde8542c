import http from 'node:http';
import type net from 'node:net';

/** A response head written by hand, for a client socket the HTTP parser no longer answers on. */
export function head(status: number, message: string, raw: string[], extra = ''): string {
  let text = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${text}${extra}\r\n`;
}

/**
 * Inactivity allowed on a client socket the proxy is closing. After the hand-off no HTTP server timeout
 * applies, so this guard is what stops a client that stops reading from holding the socket forever.
 */
export const CLOSING_IDLE_MS = 30_000;

/** How long a flushed, ended client socket is kept before it is destroyed (see closeAfterFlush). */
const CLOSING_GRACE_MS = 2_000;

/**
 * Ends a client socket and destroys it once what was written is flushed. The HTTP server's sockets allow
 * half-open connections, so without the destroy a client that never closes its side (and a paused socket
 * never sees that it did) would keep the socket open for good. Bytes the client still sends are discarded.
 */
export function closeAfterFlush(socket: net.Socket): void {
  if (socket.destroyed) return;
  socket.setTimeout(CLOSING_IDLE_MS, () => socket.destroy());
  socket.resume();
  // Not at once: the kernel may still hold what was written, and a destroy with unread input resets it.
  socket.end(() => setTimeout(() => socket.destroy(), CLOSING_GRACE_MS).unref());
}

function refusalBody(reason: string): string {
  return `peerauth proxy: ${reason}\n`;
}

/** A refusal written straight onto a client socket the HTTP parser has let go of; then the socket closes. */
export function refuseOnSocket(socket: net.Socket, status: number, reason: string): void {
  if (socket.destroyed) return;
  const body = refusalBody(reason);
  if (socket.writable)
    socket.write(
      head(status, http.STATUS_CODES[status] ?? 'Error', [
        'Content-Type',
        'text/plain; charset=utf-8',
        'Content-Length',
        String(Buffer.byteLength(body)),
        'Connection',
        'close',
      ]) + body,
    );
  closeAfterFlush(socket);
}

/** A refusal as the answer to one request; node:http writes it after the answers to earlier ones. */
export function refuseResponse(res: http.ServerResponse, status: number, reason: string): void {
  const text = refusalBody(reason);
  // The rest of what the client sent is not trusted to be framed as it claims: close after answering.
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  res.end(text);
}
