// maxConnectionsPerUid across processes that serve one socket (the CLI's --workers). The primary is the one
// authority: for each uid it knows every slot, its own connections' and those it has leased to a worker. A
// worker asks for slots in batches (a lease) and counts its connections against them itself, so most accepts
// need no round trip: a message over the IPC channel cost a connection more than all the rest of the
// counting (about a third of a worker's CPU per connection, measured). The limit stays exact: the slots of a
// uid, leased or used, never add up past its limit, and before the primary refuses anyone it takes back every
// lease slot no connection uses (a reclaim), so a uid is refused only when its connections really fill the
// limit. After a reclaim a worker hands each slot back as its connection closes (no spare kept for a uid at
// its limit), and it hands back the spare of a uid that has been idle for a while, so leases stay bounded.
// Messages of one event-loop turn go in one message each way.
import type net from 'node:net';
import { isPrivilegedUid, type UidCountStore } from './connection-limits.js';

/** What a worker's IPC channel and a primary's ChildProcess both offer. */
export interface CountChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  readonly connected?: boolean;
}

// Worker to primary, once per turn at most.
interface BatchMessage {
  peerauthUid: 'batch';
  /** Triples: uid, slots asked for (connections waiting), never 0. */
  want: number[];
  /** Pairs: uid, slots handed back unasked (closed after a reclaim, or idle). */
  give: number[];
  /** Pairs: uid, slots handed back in answer to a reclaim (one pair per reclaim, possibly 0). */
  returned: number[];
}
// Primary to worker.
interface GrantMessage {
  peerauthUid: 'grant';
  /** Quadruples: uid, slots asked for, slots granted (may exceed those asked), refusal reason or null. */
  answers: (number | string | null)[];
}
interface ReclaimMessage {
  peerauthUid: 'reclaim';
  uids: number[];
}

function isMessage(message: unknown): message is { peerauthUid: string } {
  return typeof message === 'object' && message !== null && 'peerauthUid' in message;
}

const GONE = 'per-uid count unavailable: the primary is gone';

/** How often a worker hands back the spare slots of uids that took none since the last sweep. */
const IDLE_SWEEP_MS = 2000;

function atLimit(max: number, uid: number, held: number): string {
  return `maxConnectionsPerUid (${max}) reached: uid ${uid} has ${held} connections open`;
}

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

/** A request for slots the primary answers once its reclaim is in. */
type Pending =
  | { worker: CountChannel; asked: number }
  | { worker: null; socket: net.Socket; resolve: (refused: string | null) => void };

/** The primary's record of one uid. */
interface Slots {
  /** Slots of the primary's own connections plus every worker's lease. */
  held: number;
  /** The primary's own open connections. */
  own: number;
  /** Each worker's lease. */
  leased: Map<CountChannel, number>;
  /** Workers whose answer to a reclaim is awaited. */
  reclaiming: Set<CountChannel>;
  /** What waits for those answers, in arrival order. */
  pending: Pending[];
}

/**
 * The primary's store: its own connections are counted here at once, and every worker answered through
 * answerUidCounts() leases its slots from the same counts.
 */
export class LeasedUidCounts implements UidCountStore {
  private readonly slots = new Map<number, Slots>();
  /** Slots granted beyond those asked for: a share of the limit, so a busy uid rarely asks again. */
  private readonly batch: number;

  constructor(
    readonly max: number,
    processes: number,
  ) {
    this.batch = Math.max(1, Math.floor(max / (2 * Math.max(1, processes))));
  }

  private of(uid: number): Slots {
    let s = this.slots.get(uid);
    if (s === undefined) {
      s = { held: 0, own: 0, leased: new Map(), reclaiming: new Set(), pending: [] };
      this.slots.set(uid, s);
    }
    return s;
  }

  private dropIfEmpty(uid: number, s: Slots): void {
    if (s.held === 0 && s.reclaiming.size === 0 && s.pending.length === 0) this.slots.delete(uid);
  }

  /** Slots held now (own connections and leases): for tests and diagnostics. */
  held(uid: number): number {
    return this.slots.get(uid)?.held ?? 0;
  }

  take(socket: net.Socket, uid: number): string | null | Promise<string | null> {
    if (isPrivilegedUid(uid)) return null;
    const s = this.of(uid);
    if (s.held < this.max && s.pending.length === 0) {
      this.takeOwn(socket, uid, s);
      return null;
    }
    if (!this.reclaim(uid, s)) {
      const refused = atLimit(this.max, uid, s.held);
      this.dropIfEmpty(uid, s);
      return refused;
    }
    return new Promise((resolve) => s.pending.push({ worker: null, socket, resolve }));
  }

  private takeOwn(socket: net.Socket, uid: number, s: Slots): void {
    s.held++;
    s.own++;
    const release = () => {
      s.held--;
      s.own--;
      this.settle(uid, s);
    };
    if (socket.destroyed) release();
    else socket.once('close', release);
  }

  /**
   * Asks every worker with a lease of `uid` for its spare slots; false when none holds one (nothing to
   * wait for). A reclaim already under way is joined.
   */
  private reclaim(uid: number, s: Slots): boolean {
    for (const [worker, n] of s.leased) {
      if (n === 0 || s.reclaiming.has(worker)) continue;
      if (worker.connected === false || worker.send === undefined) continue;
      s.reclaiming.add(worker);
      worker.send({ peerauthUid: 'reclaim', uids: [uid] } satisfies ReclaimMessage);
    }
    return s.reclaiming.size > 0;
  }

  /** Once no reclaim is awaited: what waited gets what is free now, in order; the rest is refused. */
  private settle(uid: number, s: Slots): void {
    if (s.reclaiming.size > 0) return;
    const pending = s.pending;
    s.pending = [];
    const answers = new Map<CountChannel, (number | string | null)[]>();
    for (const p of pending) {
      if (p.worker === null) {
        if (s.held < this.max) {
          this.takeOwn(p.socket, uid, s);
          p.resolve(null);
        } else p.resolve(atLimit(this.max, uid, s.held));
        continue;
      }
      const granted = Math.min(p.asked, this.max - s.held);
      this.lease(p.worker, s, granted);
      let list = answers.get(p.worker);
      if (list === undefined) {
        list = [];
        answers.set(p.worker, list);
      }
      list.push(uid, p.asked, granted, granted < p.asked ? atLimit(this.max, uid, s.held) : null);
    }
    for (const [worker, list] of answers) sendGrant(worker, list);
    this.dropIfEmpty(uid, s);
  }

  private lease(worker: CountChannel, s: Slots, n: number): void {
    if (n <= 0) return;
    s.held += n;
    s.leased.set(worker, (s.leased.get(worker) ?? 0) + n);
  }

  private handBack(worker: CountChannel, s: Slots, n: number): void {
    const had = s.leased.get(worker) ?? 0;
    const back = Math.min(had, n);
    s.held -= back;
    if (had - back === 0) s.leased.delete(worker);
    else s.leased.set(worker, had - back);
  }

  /** One batch from `worker`: slots back first (their connections are closed), then its asks. */
  batchFrom(worker: CountChannel, message: BatchMessage): void {
    const { want, give, returned } = message;
    for (let i = 0; i + 1 < give.length; i += 2) {
      const uid = give[i] as number;
      const s = this.slots.get(uid);
      if (s === undefined) continue;
      this.handBack(worker, s, give[i + 1] as number);
      this.settle(uid, s);
      this.dropIfEmpty(uid, s);
    }
    for (let i = 0; i + 1 < returned.length; i += 2) {
      const uid = returned[i] as number;
      const s = this.slots.get(uid);
      if (s === undefined) continue;
      this.handBack(worker, s, returned[i + 1] as number);
      s.reclaiming.delete(worker);
      this.settle(uid, s);
    }
    const answers: (number | string | null)[] = [];
    for (let i = 0; i + 1 < want.length; i += 2) {
      const uid = want[i] as number;
      const asked = want[i + 1] as number;
      if (asked <= 0) continue;
      const s = this.of(uid);
      const free = this.max - s.held;
      if (s.pending.length === 0 && free >= asked) {
        // Room for all: a batch more, while the uid is far from its limit.
        const granted = Math.min(free, Math.max(asked, this.batch));
        this.lease(worker, s, granted);
        answers.push(uid, asked, granted, null);
        continue;
      }
      // Short of slots: the other leases' spares first; refused only if they do not cover it.
      if (this.reclaim(uid, s)) {
        s.pending.push({ worker, asked });
        continue;
      }
      const granted = Math.max(0, free);
      this.lease(worker, s, granted);
      answers.push(uid, asked, granted, atLimit(this.max, uid, s.held));
      this.dropIfEmpty(uid, s);
    }
    if (answers.length > 0) sendGrant(worker, answers);
  }

  /** A worker ended: its lease is free again, and no reclaim waits for its answer. */
  workerGone(worker: CountChannel): void {
    for (const [uid, s] of this.slots) {
      this.handBack(worker, s, s.leased.get(worker) ?? 0);
      s.reclaiming.delete(worker);
      s.pending = s.pending.filter((p) => p.worker !== worker);
      this.settle(uid, s);
      this.dropIfEmpty(uid, s);
    }
  }
}

function sendGrant(worker: CountChannel, answers: (number | string | null)[]): void {
  if (worker.connected !== false) worker.send?.({ peerauthUid: 'grant', answers } satisfies GrantMessage);
}

/**
 * The primary's side for one worker: its leases come from `counts` (where the primary's own server counts
 * too). What the worker still holds when it ends is released, so its connections never stay counted.
 */
export function answerUidCounts(worker: CountChannel, counts: LeasedUidCounts): void {
  worker.on('message', (message) => {
    if (isMessage(message) && message.peerauthUid === 'batch')
      counts.batchFrom(worker, message as BatchMessage);
  });
  worker.on('disconnect', () => counts.workerGone(worker));
}
