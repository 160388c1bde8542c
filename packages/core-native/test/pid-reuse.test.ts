// PID reuse: a pid alone is not an identity. In a private pid namespace the peer's pid is handed to
// another program on purpose; processInfo given the pidfd taken at accept must refuse to answer.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { platformSupport } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/pid-reuse.mjs', import.meta.url));

function unshareProblem(): string | null {
  const r = spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true'], { encoding: 'utf8' });
  if (r.error) return `unshare not runnable: ${r.error.message}`;
  if (r.status !== 0) return `unshare -p -f --mount-proc not permitted here: ${r.stderr.trim()}`;
  return null;
}

describeAsRoot('pid reuse in a private pid namespace', () => {
  const problem = unshareProblem() ?? (platformSupport().pidfd ? null : 'this kernel has no SO_PEERPIDFD');
  if (problem) console.warn(`[peerauth tests] pid reuse test skipped: ${problem}`);

  it.skipIf(problem !== null)(
    'processInfo with the accept-time pidfd rejects with PeerProcessExitedError',
    () => {
      const out = execFileSync('unshare', ['-p', '-f', '--mount-proc', process.execPath, fixture], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      const result = JSON.parse(out.trim().split('\n').at(-1)!);
      expect(result.pidfd).toBe(true);
      expect(result.peerPid).toBe(result.childPid);
      // The arranged reuse happened: sleep now has the peer's pid.
      expect(result.reusedBy).toBe(result.peerPid);
      expect(result.withPidfd).toMatchObject({
        ok: false,
        code: 'PEERAUTH_PEER_PROCESS_EXITED',
        name: 'PeerProcessExitedError',
      });
      // Without a pidfd the pid names sleep now; this is the race the README documents.
      expect(result.withoutPidfd).toEqual({ ok: true, exePath: '/usr/bin/sleep' });
      // Reuse during the lookup is caught without a pidfd too, by the start-time comparison.
      expect(result.duringReusedBy).toBe(result.duringPeerPid);
      expect(result.duringWithoutPidfd).toMatchObject({ ok: false, code: 'PEERAUTH_PEER_PROCESS_EXITED' });
      expect(result.duringWithoutPidfd.message).toMatch(/start time changed/);
    },
  );
});
