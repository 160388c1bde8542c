// A lookup stuck in NSS for longer than the pool's timeout: the caller gets PEERAUTH_LOOKUP_TIMEOUT, the worker
// is abandoned, and when the native call finally returns into the terminated worker the result is
// discarded. The process must live on (it used to abort with a fatal napi_throw) and keep answering.
// The 30 s case runs in `npm run stress`.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { isLinux } from '../../../test-fixtures/root.js';

const CHILD = fileURLToPath(new URL('./fixtures/slow-lookup.mjs', import.meta.url));

function runSlowLookup(
  sleepMs: number,
  action = `sleep${sleepMs}`,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = nssFaultEnv([{ call: 'getpwuid_r', key: 0, action }]);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CHILD, String(sleepMs)],
      { env, timeout: sleepMs + 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// The fault is injected through an NSS module (glibc) and threads are counted in /proc: Linux only.
describe.skipIf(!isLinux)('a lookup that returns after its timeout', () => {
  it.concurrent.each([
    [3000, 'sleep3000'],
    [5000, 'sleep5000'],
    [3000, 'sleep3000+EIO'],
  ])(
    'stuck %i ms (%s): discarded, the process lives on, others are served, the thread is released',
    async (ms, action) => {
      const r = await runSlowLookup(ms, action);
      expect(r.stderr).not.toContain('FATAL');
      expect(r.code).toBe(0);
      const seen = JSON.parse(r.stdout.trim()) as Record<string, number | string>;
      expect(seen.slow).toBe('PEERAUTH_LOOKUP_TIMEOUT');
      expect(seen.failed).toBe(0);
      expect(seen.served).toBeGreaterThan(0);
      expect(seen.after).toBeLessThanOrEqual(seen.before as number);
    },
    90_000,
  );
});
