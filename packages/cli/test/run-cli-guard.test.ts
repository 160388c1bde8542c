// The test helpers' guards (helpers.ts). runCli waits for a command to exit; one that never does (a server
// started by mistake, a hang) is killed by its guard, so no child outlives its test or the suite.
// runCliToExit's guard stops a command that did not exit by itself (a server that started where a refusal
// was expected). Its result must say so: a serve stopped by SIGTERM drains and exits on its own terms, and
// that exit must not pass for the refusal a test waits for (before, it read as a plain exit 1).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../test-fixtures/run.js';
import { RUN_CLI_GUARD_MS, runCli, runCliToExit, tempDir } from './helpers.js';

describe('runCli has a time guard', () => {
  it('a command still running after guardMs is killed with SIGKILL, and the result says so', async () => {
    const socket = path.join(tempDir('pacli-guard-'), 's.sock');
    // serve runs until it is stopped: without the guard this await never returned.
    const r = await runCli(['serve', '--socket', socket], { guardMs: 1500 });
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(r.stderr).toContain('[runCli: still running after 1500 ms; killed]');
    // Nothing runs on with the socket path in its arguments.
    const ps = await runCommand('ps', ['-eo', 'pid=,args=']);
    expect(ps.code).toBe(0);
    expect(ps.stdout.split('\n').filter((line) => line.includes(socket))).toEqual([]);
  });

  it('a command that exits in time keeps its exit code, and the default guard is below the test timeout', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.signal).toBeUndefined();
    expect(RUN_CLI_GUARD_MS).toBeLessThan(30_000);
  });
});

describe.skipIf(process.platform !== 'linux')('runCliToExit (peerauth serve is Linux-only here)', () => {
  it('a serve that starts instead of exiting: timedOut, and a last stderr line naming the guard', async () => {
    const socket = path.join(tempDir('paguard-'), 's.sock');
    const r = await runCliToExit(['serve', '--socket', socket], 3000);
    expect(r.timedOut).toBe(true);
    expect(r.stderr).toMatch(/\[runCliToExit: still running after 3000 ms; stopped with SIGTERM\]\n$/);
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('a command that exits by itself: its own code, no timedOut', async () => {
    const socket = path.join(tempDir('paguard-'), 's.sock');
    const r = await runCliToExit(['serve', '--socket', socket, '--no-such-flag']);
    expect(r.timedOut).toBeUndefined();
    expect(r.code).toBe(2);
  });
});
