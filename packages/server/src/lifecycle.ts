// Where a PeerServer is in its life, and everything that belongs to that: one object, so no step of
// listen()/close() can read a stale flag that another step forgot to reset.
//
//   idle ──listen()──▶ starting ──bound──▶ listening ──close()──▶ stopping ──'close'──▶ closed
//                          │                                        ▲
//                          └──────────────close()───────────────────┘   (the start undoes itself)
//
// A failed start goes back to idle; listen() after close starts again from starting.
import type { ShutdownSignals } from './signals.js';
import type { BoundSocketFile } from './socket-file.js';

export type LifecycleState = 'idle' | 'starting' | 'listening' | 'stopping' | 'closed';

interface PendingBind {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** @internal The server's own state; tests read `state` to follow it. */
export class Lifecycle {
  #state: LifecycleState = 'idle';
  /** The socket file this server created and must remove; null under socket activation or when not bound. */
  bound: BoundSocketFile | null = null;
  /** Listening on a socket handed over by systemd, which this server never created. */
  activated = false;
  /** That socket's path (getsockname), null for a TCP or unnamed one: Node knows no name for an fd. */
  activatedName: string | null = null;
  /** The internal bind in progress: its net.Server 'listening'/'error' settle it. */
  pendingBind: PendingBind | null = null;
  /** handleSignals' handlers, from listen() until the server has closed (or a start failed). */
  signals: ShutdownSignals | null = null;
  /** The start under way or done; a signal's shutdown waits for it. */
  starting: Promise<void> | null = null;
  /** start() has not settled yet: a close() then leaves the inner listener to the start's undoing. */
  startInFlight = false;
  /** Counts listen() calls: what a close() set up (its drain timer) knows whether a later life began. */
  #generation = 0;
  /** 'close' was announced in this life: the inner listener may report closing more than once. */
  #closeAnnounced = false;

  get generation(): number {
    return this.#generation;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** From close() on, until the next listen(). */
  get stopping(): boolean {
    return this.#state === 'stopping' || this.#state === 'closed';
  }

  startRequested(): void {
    this.#state = 'starting';
    this.#generation++;
    this.#closeAnnounced = false;
  }

  started(): void {
    if (this.#state === 'starting') this.#state = 'listening';
  }

  startFailed(): void {
    if (this.#state === 'starting') this.#state = 'idle';
  }

  /** True the first time close() is called in this life: the caller emits 'stopping' then. */
  stopRequested(): boolean {
    if (this.stopping) return false;
    this.#state = 'stopping';
    return true;
  }

  closed(): void {
    this.#state = 'closed';
  }

  /**
   * True once per close(): when the server is stopping and has not yet said 'close'. net.Server emits
   * 'close' for every close() call on a server that is not listening, and a start undone by close() closes
   * it once more; only the first of these in a stopping life is the public 'close'.
   */
  announceClose(): boolean {
    if (this.#state !== 'stopping' || this.#closeAnnounced) return false;
    this.#closeAnnounced = true;
    return true;
  }

  /** The bind step's outcome, taken once. */
  takePendingBind(): PendingBind | null {
    const pending = this.pendingBind;
    this.pendingBind = null;
    return pending;
  }

  /** Removes the signal handlers unless a signal arrived (then its shutdown owns them until the exit). */
  releaseSignals(): void {
    if (this.signals?.received === null) {
      this.signals.remove();
      this.signals = null;
    }
  }

  /** The socket file to remove, taken once. */
  takeBound(): BoundSocketFile | null {
    const bound = this.bound;
    this.bound = null;
    return bound;
  }
}
