// A worker's side of the per-uid count (see cluster-limits.ts): slots leased from the primary in batches and
// counted here, handed back when reclaimed or idle.
import type net from 'node:net';
import { isPrivilegedUid, type UidCountStore } from './connection-limits.js';
import {
  type BatchMessage,
  type CountChannel,
  type GrantMessage,
  isMessage,
  type ReclaimMessage,
} from './uid-lease-protocol.js';

const GONE = 'per-uid count unavailable: the primary is gone';

/** How often a worker hands back the spare slots of uids that took none since the last sweep. */
const IDLE_SWEEP_MS = 2000;

/** A worker's lease of one uid. */
interface Lease {
  /** Slots the primary granted and this worker has not handed back. */
  leased: number;
  /** Of them, the ones open connections use. */
  used: number;
  /** Connections waiting for a slot, oldest first. */
  waiters: ((refused: string | null) => void)[];
  /** Of the waiters, how many the primary has been asked about (in flight). */
  asked: number;
  /** Reclaimed: every slot goes back as its connection closes, none is kept spare. */
  tight: boolean;
  /** A slot was taken since the last idle sweep. */
  recent: boolean;
}

/** A worker's store: slots leased from the primary, counted here. */
export class RemoteUidCounts implements UidCountStore {
  private readonly leases = new Map<number, Lease>();
  private give: number[] = [];
  private returned: number[] = [];
  private scheduled = false;
  private sweeper: NodeJS.Timeout | null = null;
  private gone = false;

  constructor(
    readonly max: number,
    private readonly channel: CountChannel,
  ) {
    channel.on('message', (message) => {
      if (!isMessage(message)) return;
      if (message.peerauthUid === 'grant') this.granted((message as GrantMessage).answers);
      else if (message.peerauthUid === 'reclaim') this.reclaimed((message as ReclaimMessage).uids);
    });
    // Without the primary nothing can be counted: the connections waiting for it are refused (fail closed),
    // and so is every later one, spare lease or not.
    channel.on('disconnect', () => this.lost());
  }

  take(socket: net.Socket, uid: number): string | null | Promise<string | null> {
    // Never refused, so never counted: no round trip for root and the server's own user.
    if (isPrivilegedUid(uid)) return null;
    if (this.gone || this.channel.connected === false || this.channel.send === undefined) return GONE;
    let lease = this.leases.get(uid);
    if (lease === undefined) {
      lease = { leased: 0, used: 0, waiters: [], asked: 0, tight: false, recent: true };
      this.leases.set(uid, lease);
    }
    lease.recent = true;
    if (lease.used < lease.leased && lease.waiters.length === 0) {
      lease.used++;
      this.releaseOnClose(socket, uid);
      return null;
    }
    let closed = false;
    const onClose = () => {
      closed = true;
    };
    socket.once('close', onClose);
    return new Promise((resolve) => {
      (lease as Lease).waiters.push((refused) => {
        socket.off('close', onClose);
        // Counted (used already raised): released when the socket closes, at once if it already has.
        if (refused === null) {
          if (closed) this.release(uid);
          else this.releaseOnClose(socket, uid);
        }
        resolve(refused);
      });
      this.schedule();
    });
  }

  private releaseOnClose(socket: net.Socket, uid: number): void {
    socket.once('close', () => this.release(uid));
  }

  /** A counted connection closed: its slot serves the next waiter, goes back, or stays as spare. */
  private release(uid: number): void {
    const lease = this.leases.get(uid);
    if (lease === undefined) return;
    lease.used--;
    if (lease.waiters.length > 0 && !this.gone) {
      // Served from this slot; an answer still in flight for it then finds one waiter fewer to refuse.
      lease.used++;
      (lease.waiters.shift() as (refused: string | null) => void)(null);
      return;
    }
    if (lease.tight || this.gone) {
      lease.leased--;
      if (!this.gone) this.queueGive(uid, 1);
      this.dropIfEmpty(uid, lease);
    }
  }

  private queueGive(uid: number, n: number): void {
    this.give.push(uid, n);
    this.schedule();
  }

  private dropIfEmpty(uid: number, lease: Lease): void {
    if (lease.leased === 0 && lease.used === 0 && lease.waiters.length === 0 && lease.asked === 0)
      this.leases.delete(uid);
  }

  private granted(answers: (number | string | null)[]): void {
    for (let i = 0; i + 3 < answers.length; i += 4) {
      const uid = answers[i] as number;
      const asked = answers[i + 1] as number;
      const granted = answers[i + 2] as number;
      const refused = answers[i + 3] as string | null;
      const lease = this.leases.get(uid);
      if (lease === undefined) {
        // Nothing waits here for it any more: straight back.
        if (granted > 0) this.queueGive(uid, granted);
        continue;
      }
      lease.asked = Math.max(0, lease.asked - asked);
      lease.leased += granted;
      // A fresh grant: the uid is no longer at its limit.
      if (granted > 0) lease.tight = false;
      while (lease.waiters.length > 0 && lease.used < lease.leased) {
        lease.used++;
        (lease.waiters.shift() as (refused: string | null) => void)(null);
      }
      if (refused !== null) {
        // The waiters this answer was for that no slot covers: refused, oldest first.
        let n = Math.min(asked - granted, Math.max(0, lease.waiters.length - lease.asked));
        while (n-- > 0) (lease.waiters.shift() as (refused: string | null) => void)(refused);
      }
      this.dropIfEmpty(uid, lease);
    }
    // Waiters that arrived after the ask are asked about now.
    this.schedule();
  }

  private reclaimed(uids: number[]): void {
    for (const uid of uids) {
      const lease = this.leases.get(uid);
      let spare = 0;
      if (lease !== undefined) {
        spare = lease.leased - lease.used;
        lease.leased = lease.used;
        lease.tight = true;
        this.dropIfEmpty(uid, lease);
      }
      this.returned.push(uid, spare);
    }
    this.schedule();
  }

  private lost(): void {
    this.gone = true;
    for (const lease of this.leases.values()) {
      const waiters = lease.waiters;
      lease.waiters = [];
      lease.asked = 0;
      for (const settle of waiters) settle(GONE);
    }
    if (this.sweeper !== null) clearInterval(this.sweeper);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.gone) return;
    const want: number[] = [];
    for (const [uid, lease] of this.leases) {
      const unasked = lease.waiters.length - lease.asked;
      if (unasked <= 0) continue;
      want.push(uid, unasked);
      lease.asked += unasked;
    }
    if (want.length === 0 && this.give.length === 0 && this.returned.length === 0) return;
    const batch: BatchMessage = { peerauthUid: 'batch', want, give: this.give, returned: this.returned };
    this.give = [];
    this.returned = [];
    if (this.channel.connected === false || this.channel.send === undefined) {
      this.lost();
      return;
    }
    this.channel.send(batch);
    this.sweep();
  };

  /** While leases are held, a timer hands back the spare slots of uids that took none for a sweep. */
  private sweep(): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(() => {
      for (const [uid, lease] of this.leases) {
        if (lease.recent) {
          lease.recent = false;
          continue;
        }
        const spare = lease.waiters.length === 0 ? lease.leased - lease.used : 0;
        if (spare > 0) {
          lease.leased -= spare;
          this.queueGive(uid, spare);
        }
        this.dropIfEmpty(uid, lease);
      }
      if (this.leases.size === 0 && this.sweeper !== null) {
        clearInterval(this.sweeper);
        this.sweeper = null;
      }
    }, IDLE_SWEEP_MS);
    this.sweeper.unref();
  }
}
