import type { EventEmitter } from 'node:events';
import { Client } from 'undici';
import type { Upstream } from './upstream.js';

/**
 * The upstream side of one client connection: one undici Client (pipelining 1) for its bodiless requests,
 * and turns that keep it to one upstream connection at a time. An upstream connection is never shared
 * between two client connections, so whatever an upstream makes of one client's bytes can never be
 * attributed to another client's identity; and pipelined requests wait in order instead of each opening
 * a socket of its own (a client could otherwise spend the process's descriptors).
 *
 * A request with a body goes on a fresh node:http connection of its own (closed after it, see
 * upstreamHeaders): undici writes a request head only with the first body byte, and an upstream must be
 * able to answer or refuse before the body comes. It starts only once every earlier request is answered
 * and the undici connection is closed.
 */
export class UpstreamSession {
  private client: Client | null = null;
  /** Requests begun upstream and not yet answered (or abandoned). */
  private active = 0;
  private readonly queue: { body: boolean; start: () => void }[] = [];
  private closed = false;
  /** Answers completed on the current undici connection: more than none means the connection is reused. */
  private served = 0;

  constructor(
    private readonly upstream: Upstream,
    /** undici's client failed outside a request (a handler threw): the client connection must end. */
    private readonly broken: (err: Error) => void,
  ) {}

  /**
   * The undici client, made on first use and again after a request with a body closed the last one; null
   * once the client connection is gone.
   */
  undici(): Client | null {
    if (this.closed) return null;
    if (this.client) return this.client;
    const u = this.upstream;
    const client =
      u.kind === 'unix'
        ? new Client('http://localhost', { socketPath: u.socketPath, ...CLIENT_OPTIONS })
        : new Client(`http://${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}`, CLIENT_OPTIONS);
    client.on('connect', () => {
      this.served = 0;
    });
    // undici emits 'error' when a request's handler throws: without a listener that would end the process
    // for every caller (undici's errorRequest; its typings list no 'error' event). Only this client
    // connection ends.
    (client as unknown as EventEmitter).on('error', (err: Error) => {
      this.close();
      this.broken(err);
    });
    this.client = client;
    return client;
  }

  /** True when the undici connection a request is about to be written on has answered before. */
  reused(): boolean {
    return this.served > 0;
  }

  /** Counts an answer completed on the undici connection. */
  answered(): void {
    this.served++;
  }

  /**
   * Runs `start` in its turn; it must call the returned `done` exactly once when its request is answered,
   * failed or abandoned, once its answer is written (see afterAnswer). Every request waits for the one
   * before it: node:http decides with each answer whether the client connection goes on, and a request
   * pipelined after an answer that ends it must never reach the upstream. A request with a body also waits
   * for the undici connection to close.
   */
  turn(body: boolean, start: (done: () => void) => void): void {
    const run = () => {
      let finished = false;
      start(() => {
        if (finished) return;
        finished = true;
        this.active--;
        this.next();
      });
    };
    if (this.queue.length === 0 && this.active === 0) this.begin(body, run);
    else this.queue.push({ body, start: run });
  }

  /** The client connection is gone: nothing more starts, and the upstream connection closes. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    const client = this.client;
    this.client = null;
    client?.destroy().catch(() => {});
  }

  private begin(body: boolean, run: () => void): void {
    this.active++;
    if (!body) {
      run();
      return;
    }
    const client = this.client;
    this.client = null;
    if (!client) {
      run();
      return;
    }
    // The kept-alive connection closes before the body request opens its own.
    client.destroy().then(
      () => {
        if (!this.closed) run();
      },
      () => {
        if (!this.closed) run();
      },
    );
  }

  private next(): void {
    while (!this.closed && this.queue.length > 0 && this.active === 0) {
      const { body, start } = this.queue.shift()!;
      this.begin(body, start);
    }
  }
}

// No timeouts of its own, as node:http's client: the server's timeouts govern the client connection, and a
// slow upstream answer is the upstream's business. pipelining 1: one request at a time on the connection.
const CLIENT_OPTIONS = { pipelining: 1, headersTimeout: 0, bodyTimeout: 0 } as const;
