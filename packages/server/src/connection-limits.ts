// What one local user may hold of the server: connections per uid, counted from accept (before the identity
// is known, so a flood never reaches the resolver), the slots kept for root and the server's own user, and
// how long a connection may stay without sending a byte. Without them one user held every descriptor with
// idle connections and every other user was refused.
import type net from 'node:net';

export interface ConnectionLimits {
  /** Most connections one uid holds at once, from accept to close; Infinity for no limit. */
  maxConnectionsPerUid: number;
  /** Of maxConnections, how many only root and the server's own uid may take. */
  reservedConnections: number;
  /** A Unix connection that has sent no byte this long after accept is closed; null for never. */
  idleTimeoutMs: number | null;
}

/** Root and the user the server runs as: never held to the per-uid limit, and the only ones in reserved slots. */
export function isPrivilegedUid(uid: number): boolean {
  return uid === 0 || uid === process.getuid?.();
}

// The counted uid of a socket, under a module-private symbol, so one shared 'close' listener serves all.
const kUid = Symbol('peerauth.countedUid');
type Counted = net.Socket & { [kUid]?: number; [kCounts]?: UidCounts };
const kCounts = Symbol('peerauth.uidCounts');

function onCountedClose(this: Counted): void {
  const uid = this[kUid];
  const counts = this[kCounts];
  if (uid !== undefined && counts !== undefined) counts.release(uid);
}

/**
 * Where the per-uid counts live. The server's own UidCounts answers at once; a store whose counts another
 * process holds (the CLI's --workers: every worker asks the primary, so a limit holds whichever worker
 * accepted) answers with a promise. The socket stays counted until it closes.
 */
export interface UidCountStore {
  readonly max: number;
  /** null admits and counts the socket; a string is the refusal reason. */
  take(socket: net.Socket, uid: number): string | null | Promise<string | null>;
}

/** Live connections per uid, each counted until its socket closes. */
export class UidCounts implements UidCountStore {
  private readonly counts = new Map<number, number>();

  constructor(readonly max: number) {}

  /** Counts the socket against its uid, or returns the refusal reason when the uid is at the limit. */
  take(socket: net.Socket, uid: number): string | null {
    const refused = this.takeUid(uid);
    if (refused !== null) return refused;
    const counted = socket as Counted;
    counted[kUid] = uid;
    counted[kCounts] = this;
    socket.once('close', onCountedClose);
    return null;
  }

  /** Counts one more connection of `uid` whose close the caller reports with release(uid). */
  takeUid(uid: number): string | null {
    const held = this.counts.get(uid) ?? 0;
    if (held >= this.max && !isPrivilegedUid(uid))
      return `maxConnectionsPerUid (${this.max}) reached: uid ${uid} has ${held} connections open`;
    this.counts.set(uid, held + 1);
    return null;
  }

  release(uid: number): void {
    const held = this.counts.get(uid) ?? 0;
    if (held <= 1) this.counts.delete(uid);
    else this.counts.set(uid, held - 1);
  }

  /** Connections the uid holds now. */
  of(uid: number): number {
    return this.counts.get(uid) ?? 0;
  }
}

let sharedStore: ((max: number) => UidCountStore) | null = null;

/**
 * The per-uid store of the servers this process creates from now on: for a process that serves one socket
 * together with others (the CLI's --workers), whose counts must be the same in all of them. null: each
 * server counts its own (the default).
 */
export function useUidCountStore(create: ((max: number) => UidCountStore) | null): void {
  sharedStore = create;
}

/** The store of a server whose limit is `max`. */
export function uidCountStore(max: number): UidCountStore {
  return sharedStore ? sharedStore(max) : new UidCounts(max);
}

/**
 * Closes `socket` through `close(reason)` unless it has sent a byte within `ms`. The socket reads from accept
 * on, so bytesRead counts what arrived even while nobody consumes it yet.
 */
export function closeIfSilent(socket: net.Socket, ms: number, close: (reason: string) => void): void {
  const timer = setTimeout(() => {
    // A client that ended its side without a byte waits for an answer: it is done, not idle.
    if (!socket.destroyed && socket.bytesRead === 0 && !socket.readableEnded)
      close(`idle: sent nothing in ${ms} ms`);
  }, ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
