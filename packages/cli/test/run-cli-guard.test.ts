// runCliToExit's guard stops a command that did not exit by itself (a server that started where a refusal
// was expected). Its result must say so: a serve stopped by SIGTERM drains and exits on its own terms, and
// that exit must not pass for the refusal a test waits for (before, it read as a plain exit 1).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliToExit, tempDir } from './helpers.js';

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
