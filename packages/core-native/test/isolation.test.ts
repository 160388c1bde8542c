// Fault isolation: a worker that hangs (like a stuck NSS module) or crashes costs one call, never
// the event loop, and the pool keeps serving. The pools run test/fixtures/stepping-worker.mjs.
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LookupTimeoutError, openPeerPidfd, platformSupport, WorkerCrashedError } from '../src/index.js';
import type { Pool } from '../src/pool.js';
import { createSteppingPool, createTestPool, listen } from './helpers.js';

const TIMEOUT_MS = 1000;

describe('fault isolation', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = createSteppingPool({ threads: 1, timeoutMs: TIMEOUT_MS });
  });
  afterAll(async () => {
    await pool.close();
  });

  it('a hung worker: LookupTimeoutError, the event loop keeps serving meanwhile, next call served', async () => {
    expect(await pool.lookupUser(0)).toMatchObject({ name: 'root' });
    let settled = false;
    const hung = pool.run('hang', { op: 'hang' }).then(
      () => null,
      (e: unknown) => e,
    );
    void hung.finally(() => {
      settled = true;
    });
    // Real socket round trips on the main thread while the worker is stuck: if the hang blocked the event
    // loop they could only finish after it settled.
    const echo = await listen();
    try {
      const served = echo.nextConnection().then((s) => s.pipe(s));
      const client = net.connect(echo.path);
      await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
      await served;
      for (let i = 0; i < 20; i++) {
        const reply = new Promise<string>((resolve) => client.once('data', (d) => resolve(String(d))));
        client.write(`ping ${i}`);
        expect(await reply).toBe(`ping ${i}`);
      }
      expect(settled).toBe(false);
      client.destroy();
    } finally {
      await echo.close();
    }
    const err = (await hung) as Error & { code: string };
    expect(err).toBeInstanceOf(LookupTimeoutError);
    expect(err.code).toBe('PEERAUTH_LOOKUP_TIMEOUT');
    // The only worker was the hung one: this is served by its replacement.
    expect(await pool.lookupUser(0)).toMatchObject({ name: 'root' });
  });

  it('a crashed worker: WorkerCrashedError, next call served', async () => {
    const err = (await pool.run('crash', { op: 'crash' }).catch((e) => e)) as Error & { code: string };
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect(err.code).toBe('PEERAUTH_WORKER_CRASHED');
    expect(await pool.lookupUser(0)).toMatchObject({ name: 'root' });
    expect(await pool.lookupGroup(0)).toMatchObject({ name: 'root' });
  });

  it('other calls queued behind a hung worker are still answered', async () => {
    const hung = pool.run('hang', { op: 'hang' }).catch((e) => e);
    const queued = pool.lookupUser(0).catch((e) => e);
    expect(await hung).toBeInstanceOf(LookupTimeoutError);
    // Queued behind the hang it may itself time out, but it must settle with a typed result.
    const q = await queued;
    if (q instanceof Error) expect(q).toBeInstanceOf(LookupTimeoutError);
    else expect(q).toMatchObject({ name: 'root' });
    expect(await pool.lookupUser(0)).toMatchObject({ name: 'root' });
  });

  it("the pool's own worker refuses a task it does not know", async () => {
    const normal = createTestPool({ threads: 1 });
    try {
      await expect(normal.run('hang', { op: 'hang' })).rejects.toMatchObject({
        code: 'PEERAUTH_LOOKUP_FAILED',
        message: expect.stringContaining('unknown task "hang"'),
      });
    } finally {
      await normal.close();
    }
  });
});

// SO_PEERPIDFD is Linux's (kernel >= 6.5); open descriptors are counted in /proc.
describe.runIf(platformSupport().pidfd)('pidfd on timeout', () => {
  function fdsOpenOn(target: string): number {
    let n = 0;
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`) === target) n++;
      } catch {}
    }
    return n;
  }

  it('a processInfo that times out still closes its pidfd once, and the worker leaks no file', async () => {
    const exe = realpathSync(process.execPath);
    const openBefore = fdsOpenOn(exe);
    // The stepping worker hangs with the executable open, like a read stuck on slow storage.
    const pool = createSteppingPool({ threads: 1, timeoutMs: 500 }, { hangAfterOpen: true });
    // A warm worker, so the timeout runs out while the file is open rather than while it boots.
    await pool.lookupUser(0);
    const listener = await listen();
    const accepted = listener.nextConnection();
    const client = net.createConnection(listener.path);
    try {
      const fd = openPeerPidfd(await accepted)!;
      expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/pidfd/);
      const pending = pool
        .processInfo({ pid: process.pid, pidfd: fd }, { sha256: true, maxBytes: 1 << 30 })
        .catch((e) => e);
      // The hung worker holds the executable open...
      for (let i = 0; i < 20 && fdsOpenOn(exe) === openBefore; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(fdsOpenOn(exe)).toBe(openBefore + 1);
      const err = await pending;
      expect(err).toBeInstanceOf(LookupTimeoutError);
      let link = '';
      try {
        link = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {}
      expect(link).not.toMatch(/pidfd/);
      // ...and its handle is closed when the terminated worker's thread is torn down.
      for (let i = 0; i < 100 && fdsOpenOn(exe) > openBefore; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(fdsOpenOn(exe)).toBe(openBefore);
    } finally {
      client.destroy();
      await listener.close();
      await pool.close();
    }
  });
});
