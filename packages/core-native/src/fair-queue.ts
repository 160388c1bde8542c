// Which pool task runs next. Tasks carry a key (the server uses the connecting uid, or the owner of a
// range of subordinate uids): a key has at most one task running, and keys take turns (round robin), so
// one caller whose lookups hang holds one worker, never all of them, and cannot push everyone else's
// work behind its own. Tasks without a key take turns as keys of their own. Both the queue of each key and
// the whole queue are bounded. The pool may hold a key back (next's mayRun): see SuspectKeys.

export type TaskKey = string | number | symbol;

/** Tasks one key may have waiting; more are refused at once. */
export const MAX_WAITING_PER_KEY = 64;
/** Tasks all keys together may have waiting. */
export const MAX_WAITING = 4096;

export interface Waiting {
  readonly key: TaskKey;
}

export class FairQueue<T extends Waiting> {
  readonly #waiting = new Map<TaskKey, T[]>();
  /** Keys with a task waiting and none running, in the order they take their turn. */
  #turns: TaskKey[] = [];
  readonly #inTurns = new Set<TaskKey>();
  readonly #running = new Set<TaskKey>();
  #count = 0;

  /** Why `item` cannot wait (a bound is reached), or null once it is queued. */
  add(item: T): string | null {
    const list = this.#waiting.get(item.key);
    if ((list?.length ?? 0) >= MAX_WAITING_PER_KEY)
      return `${MAX_WAITING_PER_KEY} tasks of this caller are already waiting`;
    if (this.#count >= MAX_WAITING) return `${MAX_WAITING} tasks are already waiting`;
    if (list) list.push(item);
    else this.#waiting.set(item.key, [item]);
    this.#count++;
    this.#offer(item.key);
    return null;
  }

  /** Takes a waiting item out (its deadline passed); true when it was still waiting. */
  remove(item: T): boolean {
    const list = this.#waiting.get(item.key);
    const at = list ? list.indexOf(item) : -1;
    if (!list || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.#waiting.delete(item.key);
    this.#count--;
    return true;
  }

  /**
   * The next item to run, its key now counted as running; null when none may run. A key `mayRun` refuses
   * keeps its place in the turns for later.
   */
  next(mayRun: (key: TaskKey) => boolean = () => true): T | null {
    const skipped: TaskKey[] = [];
    try {
      while (this.#turns.length > 0) {
        const key = this.#turns.shift() as TaskKey;
        const list = this.#waiting.get(key);
        if (!list || this.#running.has(key)) {
          this.#inTurns.delete(key);
          continue;
        }
        if (!mayRun(key)) {
          skipped.push(key);
          continue;
        }
        this.#inTurns.delete(key);
        return this.#take(key, list);
      }
      return null;
    } finally {
      // Refused keys go back to the front, in their order: they have not had their turn.
      if (skipped.length > 0) this.#turns.unshift(...skipped);
    }
  }

  #take(key: TaskKey, list: T[]): T {
    const item = list.shift() as T;
    if (list.length === 0) this.#waiting.delete(key);
    this.#count--;
    this.#running.add(key);
    return item;
  }

  /** `key`'s running task finished: its next waiting task (if any) takes a turn at the back. */
  done(key: TaskKey): void {
    this.#running.delete(key);
    this.#offer(key);
  }

  get waiting(): number {
    return this.#count;
  }

  clear(): T[] {
    const all = [...this.#waiting.values()].flat();
    this.#waiting.clear();
    this.#turns = [];
    this.#inTurns.clear();
    this.#count = 0;
    return all;
  }

  #offer(key: TaskKey): void {
    if (this.#running.has(key) || this.#inTurns.has(key) || !this.#waiting.has(key)) return;
    this.#turns.push(key);
    this.#inTurns.add(key);
  }
}

/** How long a key whose task timed out counts as suspect. */
export const SUSPECT_MS = 30_000;
/** Suspect keys remembered at most (the oldest are forgotten first). */
const MAX_SUSPECTS = 4096;

/**
 * Keys whose last run timed out within SUSPECT_MS: their lookups hang (an NSS backend stalling on their
 * ids). The pool lets them hold only part of its workers, so however many there are, the rest stay free
 * for everyone else.
 */
export class SuspectKeys {
  readonly #until = new Map<TaskKey, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  mark(key: TaskKey): void {
    // A key of its own (a call without one) never comes back: nothing to remember.
    if (typeof key === 'symbol') return;
    this.#until.delete(key);
    this.#until.set(key, this.now() + SUSPECT_MS);
    if (this.#until.size > MAX_SUSPECTS) this.#until.delete(this.#until.keys().next().value as TaskKey);
  }

  has(key: TaskKey): boolean {
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.#until.delete(key);
    return false;
  }
}
