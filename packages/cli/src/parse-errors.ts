import type net from 'node:net';
import type { pino } from 'pino';
import { closeAfterFlush, refuseOnSocket, refuseResponse } from './client-answers.js';
import { afterEarlierAnswers, incompleteRequest, owesAnswers } from './pipeline-order.js';

/** The status node:http itself answers a parse error with. */
function statusOf(code: string): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  return 400;
}

const handled = new WeakSet<net.Socket>();

/**
 * The HTTP server's 'clientError' listener. node:http's own answers a parse error at once and destroys the
 * socket, which cuts the answers to requests the client pipelined before it while they are still in
 * flight (nginx and Go answer those first). Here earlier answers are written first, then the refusal, then
 * the connection closes; bytes after the error are never parsed (llhttp stays in its error state).
 *
 * Data after a request that closes its connection (HTTP/1.0 without keep-alive, `Connection: close`) is
 * ignored: that request is answered and the connection then closes, as nginx and Go's ReverseProxy do.
 */
export function clientErrorHandler(
  logger: pino.Logger,
  logFields: (socket: net.Socket) => Record<string, unknown>,
): (err: Error & { code?: string }, socket: net.Socket) => void {
  return (err, socket) => {
    // llhttp reports its error again for every later read: the first one decides.
    if (handled.has(socket)) return;
    handled.add(socket);
    const code = err.code ?? '';
    if (!code.startsWith('HPE_')) {
      // A socket error or a request timeout: nothing more is answered on this connection. A timeout with no
      // answer under way gets node:http's own 408 first.
      if (code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.writable && !owesAnswers(socket))
        socket.write('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    if (code === 'HPE_CLOSED_CONNECTION') {
      afterEarlierAnswers(socket, () => closeAfterFlush(socket));
      return;
    }
    const status = statusOf(code);
    const reason = `malformed request (${code})`;
    logger.warn({ ...logFields(socket), status, reason }, 'request refused');
    const broken = incompleteRequest(socket);
    if (broken) {
      // The error is in this request's body: its forwarding stops, and the refusal is its answer.
      broken.stop?.();
      if (!broken.res.headersSent) refuseResponse(broken.res, status, reason);
      else if (!broken.res.writableEnded) broken.res.destroy();
    } else afterEarlierAnswers(socket, () => refuseOnSocket(socket, status, reason));
    afterEarlierAnswers(socket, () => closeAfterFlush(socket));
  };
}
