// Uids whose NSS lookups hang (an LDAP-backed passwd that stalls on unknown ids; here an LD_PRELOAD fault
// in the server) must not keep everyone else out. Two stuck uids used to hold both pool workers, so other
// new users were refused ("timed out") while they kept connecting; so did one user's many subordinate uids
// through a user namespace. Now each uid (a subordinate range counts as its owner) runs one lookup at a
// time, three stuck at once still leave a worker, and a failure is remembered for a second.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createManyGroupsUser,
  inSubordinateNamespace,
  type ManyGroupsUser,
  removeManyGroupsUser,
} from '../../../test-fixtures/many-groups.js';
import { type NssFault, nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { readableCopy } from '../../../test-fixtures/readable.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { describeWithTools } from '../../../test-fixtures/tools.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { fixtures, type RunningCli, run, startCli, tempDir, waitFor, writeConfig } from './helpers.js';

const GROUP = { name: 'pa26-nb-g', gid: 44970 };
// Ordinary users, each connecting once while the others are stuck (so each is a fresh, uncached lookup).
const USERS = Array.from({ length: 6 }, (_, i) => ({ name: `pa26-nb-${i}`, uid: 44971 + i }));
// Uids without passwd entries whose lookups hang far past every timeout.
const STUCK_FIRST = 4_300_000;
const STUCK = [STUCK_FIRST, STUCK_FIRST + 1, STUCK_FIRST + 2];
// A user whose subordinate uids all hang: inner uids 1..6 arrive as 4,310,000..4,310,005.
const OWNER: ManyGroupsUser = { name: 'pa26-nb-sub', uid: 44979, gid: 44979, base: 4_310_000, count: 65_535 };
const FAULTS: NssFault[] = [
  { call: 'getpwuid_r', key: `${STUCK_FIRST}-${STUCK_FIRST + 99}`, action: 'sleep8000' },
  { call: 'getpwuid_r', key: `${OWNER.base}-${OWNER.base + OWNER.count - 1}`, action: 'sleep8000' },
];
// Run as other uids: a world-readable copy, since the checkout may sit in a directory only root can enter.
const LOOP = readableCopy(path.join(fixtures, 'connect-loop.mjs'));

function rejections(stderr: string): { peerUid: number; reason: string }[] {
  return stderr
    .split('\n')
    .filter((l) => l.includes('"decision":"rejected"'))
    .map((l) => JSON.parse(l) as { peerUid: number; reason: string });
}

const rejectedUids = (stderr: string): number[] => rejections(stderr).map((r) => r.peerUid);

describeAsRoot('uids whose lookups hang do not keep other users out (LD_PRELOAD NSS faults)', () => {
  describeWithTools('with newuidmap and newgidmap', ['newuidmap', 'newgidmap', 'unshare', 'curl'], () => {
    let dir: string;
    let cli: RunningCli;
    const noisy: ChildProcess[] = [];

    beforeAll(async () => {
      for (const u of USERS) removeTestUser(u.name);
      removeTestGroup(GROUP.name);
      createTestGroup(GROUP.name, GROUP.gid);
      for (const u of USERS) createTestUser(u.name, { uid: u.uid, gid: GROUP.gid });
      createManyGroupsUser(OWNER);
      dir = tempDir();
      cli = await startCli(
        ['serve', '--mode', '0666', '--config', writeConfig(dir, { people: [] })],
        path.join(dir, 's.sock'),
        { env: nssFaultEnv(FAULTS) },
      );
    });

    // The server's stop waits for threads still inside a hanging NSS call (8 s at most).
    afterAll(async () => {
      for (const child of noisy) {
        // Each loop leads its own process group (its namespace children included).
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
      await cli?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      for (const u of USERS) removeTestUser(u.name);
      removeTestGroup(GROUP.name);
      removeManyGroupsUser(OWNER);
    }, 60_000);

    const loop = (args: string[]): void => {
      const child = spawn(args[0] as string, args.slice(1), { detached: true, stdio: 'ignore', cwd: '/' });
      child.on('error', () => {});
      noisy.push(child);
    };

    async function whoami(user: { uid: number }): Promise<string> {
      const url = 'http://localhost/whoami';
      const args = [
        '-s',
        '-m',
        '30',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--unix-socket',
        cli.socket,
        url,
      ];
      return (await run('curl', args, { uid: user.uid, gid: GROUP.gid })).stdout;
    }

    it('three stuck uids and one user with six stuck subordinate uids, all reconnecting: every other user is admitted', async () => {
      for (const uid of STUCK)
        loop([
          'setpriv',
          `--reuid=${uid}`,
          `--regid=${GROUP.gid}`,
          '--clear-groups',
          '--',
          process.execPath,
          LOOP,
          cli.socket,
        ]);
      loop([
        ...inSubordinateNamespace(OWNER),
        process.execPath,
        LOOP,
        cli.socket,
        ...['1', '2', '3', '4', '5', '6'],
      ]);
      // Every noisy caller has had a lookup run into the pool's timeout (its worker replaced): all four hang
      // at once now, and keep asking.
      const owned = (uid: number) => uid >= OWNER.base && uid < OWNER.base + OWNER.count;
      await waitFor(() => {
        const timedOut = rejections(cli.stderr())
          .filter((r) => r.reason.includes('PEERAUTH_LOOKUP_TIMEOUT'))
          .map((r) => (owned(r.peerUid) ? OWNER.base : r.peerUid));
        return [...STUCK, OWNER.base].every((uid) => timedOut.includes(uid));
      }, 60_000);
      const statuses: string[] = [];
      for (const user of USERS) statuses.push(await whoami(user));
      const why = rejections(cli.stderr()).filter((r) => USERS.some((u) => u.uid === r.peerUid));
      expect(statuses, JSON.stringify(why)).toEqual(USERS.map(() => '200'));
      for (const user of USERS) expect(rejectedUids(cli.stderr())).not.toContain(user.uid);
    }, 180_000);
  });
});
