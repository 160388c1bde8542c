import { describe, expect, it } from 'vitest';
import { createCachingDirectory } from '../src/cache.js';
import { countingDirectory } from './helpers.js';

describe('createCachingDirectory', () => {
  it('single-flight: concurrent lookups of one uncached uid share one inner lookup', async () => {
    const inner = countingDirectory({ 1000: { name: 'alice', gid: 100 } });
    const cached = createCachingDirectory(inner);
    const results = await Promise.all(Array.from({ length: 1000 }, () => cached.userByUid(1000)));
    expect(inner.userCalls).toBe(1);
    expect(new Set(results.map((r) => r?.name))).toEqual(new Set(['alice']));
    const groups = await Promise.all(Array.from({ length: 50 }, () => cached.groupsOf('alice', 100)));
    expect(inner.groupCalls).toBe(1);
    expect(groups[0]).toEqual([{ gid: 100, name: 'g100' }]);
  });

  it('a hit while pending shares the promise; once settled it hands back the plain value', async () => {
    const inner = countingDirectory({ 1: { name: 'a', gid: 1 } });
    const cached = createCachingDirectory(inner);
    const first = cached.userByUid(1);
    expect(first).toBeInstanceOf(Promise);
    expect(cached.userByUid(1)).toBe(first);
    const answer = await first;
    // A settled hit is not a promise: the resolver then needs no timeout timer and no extra tick.
    const hit = cached.userByUid(1);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toBe(answer);
    expect(inner.userCalls).toBe(1);
    expect(cached.stats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it('expires positive entries after ttlMs and negative ones after negativeTtlMs', async () => {
    let now = 0;
    const inner = countingDirectory({ 1: { name: 'a', gid: 1 } }, 0);
    const cached = createCachingDirectory(inner, { ttlMs: 1000, negativeTtlMs: 100, now: () => now });
    expect(await cached.userByUid(1)).toEqual({ name: 'a', gid: 1 });
    expect(await cached.userByUid(2)).toBeNull();
    expect(inner.userCalls).toBe(2);
    now = 150; // past the negative TTL only
    await cached.userByUid(1);
    await cached.userByUid(2);
    expect(inner.userCalls).toBe(3);
    now = 1200; // past the positive TTL too
    await cached.userByUid(1);
    expect(inner.userCalls).toBe(4);
  });

  it('remembers a failure as a failure for failureTtlMs, then asks again', async () => {
    let now = 0;
    const inner = countingDirectory({ 1: { name: 'a', gid: 1 } }, 0);
    const cached = createCachingDirectory(inner, { failureTtlMs: 1000, now: () => now });
    inner.failNext = true;
    await expect(cached.userByUid(1)).rejects.toThrow('directory unavailable');
    // A flood of the same id meanwhile: every caller gets the failure, never an answer, and no lookup.
    for (let i = 0; i < 100; i++) await expect(cached.userByUid(1)).rejects.toThrow('directory unavailable');
    expect(inner.userCalls).toBe(1);
    now = 1001;
    expect(await cached.userByUid(1)).toEqual({ name: 'a', gid: 1 });
    expect(inner.userCalls).toBe(2);
  });

  it('with failureTtlMs 0 a failure is not remembered', async () => {
    const inner = countingDirectory({ 1: { name: 'a', gid: 1 } }, 0);
    const cached = createCachingDirectory(inner, { failureTtlMs: 0 });
    inner.failNext = true;
    await expect(cached.userByUid(1)).rejects.toThrow('directory unavailable');
    expect(await cached.userByUid(1)).toEqual({ name: 'a', gid: 1 });
    expect(inner.userCalls).toBe(2);
  });

  it('keeps at most max entries, evicting the least recently used', async () => {
    const inner = countingDirectory({}, 0);
    const cached = createCachingDirectory(inner, { max: 2 });
    await cached.userByUid(1);
    await cached.userByUid(2);
    await cached.userByUid(1); // 1 is now more recent than 2
    await cached.userByUid(3); // evicts 2
    expect(inner.userCalls).toBe(3);
    await cached.userByUid(1);
    expect(inner.userCalls).toBe(3);
    await cached.userByUid(2);
    expect(inner.userCalls).toBe(4);
    expect(cached.stats().size).toBeLessThanOrEqual(2);
  });

  it('rejects nonsensical options', () => {
    const inner = countingDirectory({});
    expect(() => createCachingDirectory(inner, { ttlMs: -1 })).toThrow(RangeError);
  });
});
