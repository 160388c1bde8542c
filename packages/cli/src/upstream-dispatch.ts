import type http from 'node:http';
import type { Dispatcher } from 'undici';
import { responseHeaders } from './forwarded-headers.js';
import type { Refusal } from './request-framing.js';
import type { UpstreamSession } from './upstream-session.js';

export interface BodilessCallbacks {
  /** GET, HEAD or OPTIONS: sent once more when a reused connection closes before any answer. */
  retriable: boolean;
  /** Ends the request's turn (see UpstreamSession.turn); called exactly once. */
  done: () => void;
  failed: (err: Error) => void;
  refused: (refusal: Refusal) => void;
  /** True once the proxy answered an earlier request on this connection with an error. */
  halted: () => boolean;
  notRelayable: (err: Error) => void;
}

/**
 * The header list for undici: the forwarded headers without Expect. node:http's server has already
 * answered `Expect: 100-continue` itself (as nginx does), and a bodiless request has nothing to wait for.
 */
function withoutExpect(headers: string[], req: http.IncomingMessage): string[] {
  if (req.headers.expect === undefined) return headers;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i]!.toLowerCase() !== 'expect') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

/**
 * The connection closed under the request, and nothing else went wrong: not a bad answer (a 100 or 101 it
 * did not ask for, an unparseable one), which would come again.
 */
function closedUnanswered(err: Error, code: string): boolean {
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    (code === 'UND_ERR_SOCKET' && err.message === 'other side closed')
  );
}

/**
 * Runs `step` once the answer is written (or abandoned). node:http decides there whether the client
 * connection goes on (an HTTP/1.0 client's cannot after an answer without a length): the next request's
 * turn begins only then, and never on a connection that is closing.
 */
export function afterAnswer(res: http.ServerResponse, step: () => void): void {
  // Not writableFinished: that holds as soon as the bytes are out, before node:http's own 'finish' listener
  // has decided about the connection. Called before 'finish' can have been emitted.
  if (res.destroyed) {
    step();
    return;
  }
  let ran = false;
  const once = () => {
    if (ran) return;
    ran = true;
    step();
  };
  res.once('finish', once);
  res.once('close', once);
}

/** undici's errors for a request it will not write (a header or path node:http's parser let through). */
const UNSENDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/**
 * A request without a body, on the client connection's undici client. undici writes `host` and its own
 * `connection` first, then the forwarded headers in order (identity headers first); its parser (llhttp)
 * reads the answer, which goes to the client without hop-by-hop headers, with backpressure both ways.
 */
export function sendBodiless(
  session: UpstreamSession,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  headers: string[],
  cb: BodilessCallbacks,
): void {
  const options: Dispatcher.DispatchOptions = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: withoutExpect(headers, req),
    body: null,
    // undici closes the connection after every HEAD unless told otherwise, and asks the upstream to close
    // too: some upstreams (node:http) then answer without Content-Length, and an HTTP/1.0 client's
    // keep-alive connection cannot go on after an answer without one. llhttp knows a HEAD answer has no body.
    reset: false,
  };
  let stopped = false;
  let abort: ((err?: Error) => void) | null = null;
  // The client going away aborts the upstream request instead of leaving it running.
  res.on('close', () => {
    if (res.writableFinished) return;
    stopped = true;
    abort?.();
  });
  const dispatch = (isRetry: boolean) => {
    let reused = false;
    let answered = false;
    let onDrain: (() => void) | null = null;
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abortRequest) {
        // The last moment before the request is written: nothing goes up after an error answer.
        if (cb.halted()) stopped = true;
        if (stopped) {
          abortRequest();
          return;
        }
        abort = abortRequest;
        reused = session.reused();
      },
      onHeaders(statusCode, rawHeaders, resume, statusText) {
        // Informational answers (103 Early Hints) are not relayed: the final one follows.
        if (statusCode < 200) return true;
        answered = true;
        if (stopped) return false;
        const raw = new Array<string>(rawHeaders.length);
        for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i]!.toString('latin1');
        try {
          res.writeHead(statusCode, statusText, responseHeaders(raw));
        } catch (err) {
          // node:http's writer refuses what undici's parser let through (a reason phrase it will not
          // write): the upstream's answer cannot be relayed faithfully, and its connection is dropped.
          stopped = true;
          abort?.();
          cb.notRelayable(err as Error);
          return false;
        }
        onDrain = resume;
        res.on('drain', resume);
        return true;
      },
      onData(chunk) {
        if (stopped) return false;
        return res.write(chunk);
      },
      onComplete() {
        session.answered();
        if (onDrain) res.off('drain', onDrain);
        if (stopped) {
          cb.done();
          return;
        }
        res.end();
        afterAnswer(res, cb.done);
      },
      onError(err) {
        if (onDrain) res.off('drain', onDrain);
        if (stopped) {
          cb.done();
          return;
        }
        const code = (err as NodeJS.ErrnoException).code ?? '';
        // On a reused keep-alive connection the upstream may have closed it as this request went out (it
        // then answers nothing); as node:http's documentation and nginx do, a request safe to send twice
        // is sent once more, on a fresh connection.
        if (!isRetry && cb.retriable && reused && !answered && closedUnanswered(err, code)) {
          dispatch(true);
          return;
        }
        // The connection is halted (refused/failed call halt) before the turn ends: done() starts the next
        // queued request at once, and it must already find nothing more is to be forwarded.
        if (answered) res.destroy(err);
        else if (UNSENDABLE.has(code)) cb.refused({ status: 400, reason: 'the request cannot be forwarded' });
        else cb.failed(err);
        cb.done();
      },
    };
    const client = session.undici();
    // The client connection left before a resend: nothing more goes upstream for it.
    if (client === null) {
      cb.done();
      return;
    }
    client.dispatch(options, handler);
  };
  dispatch(false);
}
