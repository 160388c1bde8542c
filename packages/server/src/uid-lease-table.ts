// The primary's lease table of the per-uid count (see cluster-limits.ts): every slot of a uid, the primary's
// own connections' and those leased to each worker, and the answers to the workers' batches.
import type net from 'node:net';
import { isPrivilegedUid, type UidCountStore } from './connection-limits.js';
import {
  type BatchMessage,
  type CountChannel,
  type GrantMessage,
  isMessage,
  type ReclaimMessage,
} from './uid-lease-protocol.js';

function atLimit(max: number, uid: number, held: number): string {
  return `maxConnectionsPerUid (${max}) reached: uid ${uid} has ${held} connections open`;
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
