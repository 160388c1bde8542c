// Which pool task runs next. Tasks carry a key (the server uses the connecting uid, or the owner of a
// range of subordinate uids): a key has at most one task running, and keys take turns (round robin), so
// one caller whose lookups hang holds one worker, never all of them, and cannot push everyone else's
// work behind its own. Tasks without a key take turns as keys of their own. Both the queue of each key and
// the whole queue are bounded.

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

  /** The next item to run, its key now counted as running; null when none may run. */
  next(): T | null {
    while (this.#turns.length > 0) {
      const key = this.#turns.shift() as TaskKey;
      this.#inTurns.delete(key);
      const list = this.#waiting.get(key);
      if (!list || this.#running.has(key)) continue;
      const item = list.shift() as T;
      if (list.length === 0) this.#waiting.delete(key);
      this.#count--;
      this.#running.add(key);
      return item;
    }
    return null;
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
