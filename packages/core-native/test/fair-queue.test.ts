// The pool's queue: one running task per key, keys in turn, bounded, and a key held back keeps its turn.
import { describe, expect, it } from 'vitest';
import { FairQueue, MAX_WAITING_PER_KEY, SUSPECT_MS, SuspectKeys } from '../src/fair-queue.js';

const task = (key: string | number, n: number) => ({ key, n });

describe('FairQueue', () => {
  it('runs one task per key at a time, and keys take turns', () => {
    const q = new FairQueue<{ key: string | number; n: number }>();
    for (let n = 0; n < 3; n++) q.add(task('flood', n));
    q.add(task('a', 0));
    q.add(task('b', 0));
    const first = q.next();
    expect(first).toEqual({ key: 'flood', n: 0 });
    // The flooding key waits for its running task; the others go first.
    expect(q.next()).toEqual({ key: 'a', n: 0 });
    expect(q.next()).toEqual({ key: 'b', n: 0 });
    expect(q.next()).toBeNull();
    q.done('flood');
    expect(q.next()).toEqual({ key: 'flood', n: 1 });
  });

  it('bounds what one key may have waiting', () => {
    const q = new FairQueue<{ key: string | number; n: number }>();
    for (let n = 0; n < MAX_WAITING_PER_KEY; n++) expect(q.add(task('k', n))).toBeNull();
    expect(q.add(task('k', MAX_WAITING_PER_KEY))).toMatch(/already waiting/);
    expect(q.add(task('other', 0))).toBeNull();
  });

  it('a key held back keeps its turn for later', () => {
    const q = new FairQueue<{ key: string | number; n: number }>();
    q.add(task('stuck', 0));
    q.add(task('a', 0));
    expect(q.next((key) => key !== 'stuck')).toEqual({ key: 'a', n: 0 });
    expect(q.next((key) => key !== 'stuck')).toBeNull();
    expect(q.next()).toEqual({ key: 'stuck', n: 0 });
  });

  it('a removed task is never handed out', () => {
    const q = new FairQueue<{ key: string | number; n: number }>();
    const gone = task('a', 0);
    q.add(gone);
    expect(q.remove(gone)).toBe(true);
    expect(q.remove(gone)).toBe(false);
    expect(q.next()).toBeNull();
    expect(q.waiting).toBe(0);
  });
});

describe('SuspectKeys', () => {
  it('remembers a key for SUSPECT_MS; a key of its own (a symbol) is never remembered', () => {
    let now = 0;
    const s = new SuspectKeys(() => now);
    const own = Symbol('call');
    s.mark(7);
    s.mark(own);
    expect(s.has(7)).toBe(true);
    expect(s.has(own)).toBe(false);
    now = SUSPECT_MS + 1;
    expect(s.has(7)).toBe(false);
  });
});
