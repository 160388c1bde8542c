// Per-call timeouts for the pool without a timer and an AbortController per call: with one timeout
// for the whole pool, deadlines expire in submission order, so a FIFO queue and a single timer for
// its head suffice. Each call gets a minimal abort emitter (piscina accepts an EventEmitter-style
// signal); Node's AbortSignal/EventTarget costs about 10 us per call on the submitting thread,
// which dominated the event-loop delay with 1,000 calls in flight.

export class CallAbort {
  aborted = false;
  done = false;
  #listener: (() => void) | null = null;

  constructor(readonly deadline: number) {}

  once(_event: 'abort', listener: () => void): void {
    this.#listener = listener;
  }

  off(_event: 'abort', listener: () => void): void {
    if (this.#listener === listener) this.#listener = null;
  }

  // piscina 5 declares `off` but calls `removeListener`.
  removeListener(event: 'abort', listener: () => void): void {
    this.off(event, listener);
  }

  abort(): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    const listener = this.#listener;
    this.#listener = null;
    listener?.();
  }
}

export class Deadlines {
  readonly #timeoutMs: number;
  #queue: CallAbort[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | null = null;
  #pending = 0;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Starts the clock for one call. Call `settle` when it finishes. */
  start(): CallAbort {
    const call = new CallAbort(performance.now() + this.#timeoutMs);
    this.#queue.push(call);
    this.#pending++;
    if (!this.#timer) this.#arm(this.#timeoutMs);
    return call;
  }

  settle(call: CallAbort): void {
    if (call.done) return;
    call.done = true;
    // Nothing in flight: drop the timer so an idle pool does not keep the process alive.
    if (--this.#pending <= 0) this.clear();
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, ms));
  }

  #expire(): void {
    this.#timer = null;
    const now = performance.now();
    while (this.#head < this.#queue.length) {
      const call = this.#queue[this.#head]!;
      if (!call.done && call.deadline > now) break;
      this.#head++;
      call.abort();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    // Skip calls that already settled so an idle pool holds no timer.
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.done) this.#head++;
    if (this.#head < this.#queue.length) this.#arm(this.#queue[this.#head]!.deadline - now);
    else {
      this.#queue = [];
      this.#head = 0;
    }
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
    this.#head = 0;
    this.#pending = 0;
  }
}
