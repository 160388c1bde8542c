import type http from 'node:http';
import type { Dispatcher } from 'undici';
import { afterAnswer, onAbandoned } from './answer-written.js';
import { responseHeaderBuffers } from './forwarded-headers.js';
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

/** undici's errors for a request it will not write (a header or path node:http's parser let through). */
const UNSENDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/**
 * One bodiless request on its way through undici: the handler undici calls (its methods on the prototype,
 * so a request costs one object rather than a closure per callback), sent once more on a fresh connection
 * when a reused one closed before any answer.
 */
class BodilessExchange implements Dispatcher.DispatchHandler {
  private stopped = false;
  private abort: ((err?: Error) => void) | null = null;
  private isRetry = false;
  private reused = false;
  private answered = false;
  /** undici's resume for this request's answer (set at its headers). */
  private resume: () => void = noop;
  /** Listens for the client's 'drain' once the answer outran the client (most answers never do). */
  private drain: (() => void) | null = null;

  constructor(
    private readonly session: UpstreamSession,
    private readonly res: http.ServerResponse,
    private readonly options: Dispatcher.DispatchOptions,
    private readonly cb: BodilessCallbacks,
  ) {
    // A client already gone: nothing goes up for it.
    if (res.destroyed) this.stopped = true;
    // The client going away aborts the upstream request instead of leaving it running.
    else
      onAbandoned(res, () => {
        this.stopped = true;
        this.abort?.();
      });
  }

  dispatch(): void {
    const client = this.session.undici();
    // The client connection left before a resend: nothing more goes upstream for it.
    if (client === null) {
      this.cb.done();
      return;
    }
    client.dispatch(this.options, this);
  }

  onConnect(abortRequest: (err?: Error) => void): void {
    // The last moment before the request is written: nothing goes up after an error answer.
    if (this.cb.halted()) this.stopped = true;
    if (this.stopped) {
      abortRequest();
      return;
    }
    this.abort = abortRequest;
    this.reused = this.session.reused();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Informational answers (103 Early Hints) are not relayed: the final one follows.
    if (statusCode < 200) return true;
    this.answered = true;
    if (this.stopped) return false;
    try {
      this.res.writeHead(statusCode, statusText, responseHeaderBuffers(rawHeaders));
    } catch (err) {
      // node:http's writer refuses what undici's parser let through (a reason phrase it will not
      // write): the upstream's answer cannot be relayed faithfully, and its connection is dropped.
      this.stopped = true;
      this.abort?.();
      this.cb.notRelayable(err as Error);
      return false;
    }
    this.resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stopped) return false;
    if (this.res.write(chunk)) return true;
    // Backpressure: undici pauses until the client has taken what was written.
    if (this.drain === null) {
      this.drain = () => this.resume();
      this.res.on('drain', this.drain);
    }
    return false;
  }

  onComplete(): void {
    this.session.answered();
    this.stopWaitingDrain();
    if (this.stopped) {
      this.cb.done();
      return;
    }
    this.res.end();
    afterAnswer(this.res, this.cb.done);
  }

  onError(err: Error): void {
    this.stopWaitingDrain();
    const { cb, res } = this;
    if (this.stopped) {
      cb.done();
      return;
    }
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // On a reused keep-alive connection the upstream may have closed it as this request went out (it
    // then answers nothing); as node:http's documentation and nginx do, a request safe to send twice
    // is sent once more, on a fresh connection.
    if (!this.isRetry && cb.retriable && this.reused && !this.answered && closedUnanswered(err, code)) {
      this.isRetry = true;
      this.reused = false;
      this.abort = null;
      this.dispatch();
      return;
    }
    // The connection is halted (refused/failed call halt) before the turn ends: done() starts the next
    // queued request at once, and it must already find nothing more is to be forwarded.
    if (this.answered) res.destroy(err);
    else if (UNSENDABLE.has(code)) cb.refused({ status: 400, reason: 'the request cannot be forwarded' });
    else cb.failed(err);
    cb.done();
  }

  private stopWaitingDrain(): void {
    if (this.drain === null) return;
    this.res.off('drain', this.drain);
    this.drain = null;
  }
}

function noop(): void {}

/**
 * A request without a body, on the client connection's undici client. undici writes `host` and its own
 * `connection` first, then the forwarded headers in order (identity headers first; see upstreamHeaders,
 * which leaves out Expect for a request without a body); its parser (llhttp) reads the answer, which goes
 * to the client without hop-by-hop headers, with backpressure both ways.
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
    headers,
    body: null,
    // undici closes the connection after every HEAD unless told otherwise, and asks the upstream to close
    // too: some upstreams (node:http) then answer without Content-Length, and an HTTP/1.0 client's
    // keep-alive connection cannot go on after an answer without one. llhttp knows a HEAD answer has no body.
    reset: false,
  };
  new BodilessExchange(session, res, options, cb).dispatch();
}
