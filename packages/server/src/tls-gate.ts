// Bounds on what a TLS client can hold before it has proven anything. A TCP connection to the TLS port costs a
// descriptor and OpenSSL state until its handshake ends; left unbounded, silent connections or a flood of
// ClientHellos would exhaust the descriptors the Unix socket also needs, and the memory of the process.
// HandshakeGate counts connections whose handshake is under way, apart from admitted ones (maxConnections),
// and turns away a new one at the limit before any TLS state exists. RefusalLog writes refusals at a bounded
// rate: the first few of each window one line each, the rest as one summary line when the window ends.
import type net from 'node:net';
import type tls from 'node:tls';
import type { PeerLogger } from './logger.js';

export class HandshakeGate {
  /** TCP connections accepted for a handshake and not yet closed. */
  private accepted = 0;
  /** Of those, connections whose handshake finished, until they close. */
  private secure = 0;

  constructor(readonly max: number) {}

  /** Connections whose handshake is still under way. */
  get pending(): number {
    return this.accepted - this.secure;
  }

  /** A new TCP connection: true if it may start its handshake (it is then counted until it closes). */
  admit(raw: net.Socket): boolean {
    if (this.pending >= this.max) return false;
    this.accepted++;
    raw.once('close', () => {
      this.accepted--;
    });
    return true;
  }

  /** A connection whose handshake finished no longer counts as pending. */
  secured(socket: tls.TLSSocket): void {
    this.secure++;
    socket.once('close', () => {
      this.secure--;
    });
  }
}

export type RefusalKind = 'overLimit' | 'handshakeFailed';

export class RefusalLog {
  private inWindow = 0;
  private readonly suppressed: Record<RefusalKind, number> = { overLimit: 0, handshakeFailed: 0 };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: PeerLogger,
    /** Refusals written one line each per window; the rest are counted. */
    private readonly perWindow: number,
    private readonly windowMs: number,
  ) {}

  /** True when this refusal may have its own line; otherwise it is counted for the window's summary. */
  take(kind: RefusalKind): boolean {
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.windowMs);
      this.timer.unref();
    }
    if (this.inWindow < this.perWindow) {
      this.inWindow++;
      return true;
    }
    this.suppressed[kind]++;
    return false;
  }

  private flush(): void {
    this.timer = null;
    this.inWindow = 0;
    const { overLimit, handshakeFailed } = this.suppressed;
    if (overLimit + handshakeFailed === 0) return;
    this.suppressed.overLimit = 0;
    this.suppressed.handshakeFailed = 0;
    this.logger.warn(
      { event: 'peerauth.tls.refused', overLimit, handshakeFailed, windowMs: this.windowMs },
      `TLS listener: ${overLimit + handshakeFailed} more refused connections in ${this.windowMs} ms not logged one by one (${overLimit} over the pending-handshake limit, ${handshakeFailed} failed handshakes)`,
    );
  }

  /** Writes what is still counted and stops the timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.flush();
  }
}
