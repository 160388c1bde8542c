// runCli (helpers.ts) waits for a command to exit; one that never does (a server started by mistake, a
// hang) is killed by its guard, so no child outlives its test or the suite.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../test-fixtures/run.js';
import { RUN_CLI_GUARD_MS, runCli, tempDir } from './helpers.js';

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
