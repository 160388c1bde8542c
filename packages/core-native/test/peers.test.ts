// Peers that are other users: as root, clients are spawned under test users (uid != gid, with
// supplementary groups) and the server must see exactly their pid, uid, gid and groups.
import { realpathSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { getPeerCredentials, openPeerPidfd, platformSupport } from '../src/index.js';
import { createTestPool, killAndWait, type Listener, listen, spawnClient, withLockRetry } from './helpers.js';

// This file's slice of the pacn range: groups 41001-41003, user 41010.
const GROUPS = [
  { name: 'pacn_peer_g1', gid: 41001 },
  { name: 'pacn_peer_g2', gid: 41002 },
  { name: 'pacn_peer_g3', gid: 41003 },
];
const USER = { name: 'pacn_peer_u1', uid: 41010, gid: 41001 };

function cleanup(): void {
  withLockRetry(() => removeTestUser(USER.name));
  for (const g of GROUPS) withLockRetry(() => removeTestGroup(g.name));
}

describeAsRoot('peer credentials of other users (root)', () => {
  let listener: Listener;

  beforeAll(async () => {
    cleanup();
    for (const g of GROUPS) withLockRetry(() => createTestGroup(g.name, g.gid));
    withLockRetry(() =>
      createTestUser(USER.name, {
        uid: USER.uid,
        gid: USER.gid,
        supplementary: ['pacn_peer_g2', 'pacn_peer_g3'],
      }),
    );
    listener = await listen();
  });

  afterAll(async () => {
    await listener?.close();
    cleanup();
  });

  async function peerOf(opts: Parameters<typeof spawnClient>[1]) {
    const accepted = listener.nextConnection();
    const { child, connected } = spawnClient(listener.path, opts);
    try {
      await connected;
      const socket = await accepted;
      return { child, socket, creds: getPeerCredentials(socket) };
    } catch (err) {
      await killAndWait(child);
      throw err;
    }
  }

  it('child_process uid/gid options: exact pid, uid, gid; no supplementary groups', async () => {
    const { child, creds } = await peerOf({ uid: USER.uid, gid: USER.gid });
    try {
      // libuv drops supplementary groups (setgroups(0)) when spawning with uid/gid.
      expect(creds).toEqual({ pid: child.pid, uid: USER.uid, gid: USER.gid, groups: [] });
    } finally {
      await killAndWait(child);
    }
  });

  it('setpriv --init-groups: the user database groups arrive as supplementary groups', async () => {
    const { child, creds } = await peerOf({
      wrapper: ['setpriv', `--reuid=${USER.uid}`, `--regid=${USER.gid}`, '--init-groups'],
    });
    try {
      expect(creds.pid).toBe(child.pid);
      expect(creds.uid).toBe(USER.uid);
      expect(creds.gid).toBe(USER.gid);
      expect(creds.groups).toEqual([41001, 41002, 41003]);
    } finally {
      await killAndWait(child);
    }
  });

  it('setpriv --groups with uid != gid and groups not in the database', async () => {
    const { child, creds } = await peerOf({
      wrapper: ['setpriv', '--reuid=41011', '--regid=41012', '--groups=41013,41014'],
    });
    try {
      expect(creds).toEqual({ pid: child.pid, uid: 41011, gid: 41012, groups: [41013, 41014] });
    } finally {
      await killAndWait(child);
    }
  });

  it('more supplementary groups than the first buffer holds (grown on ERANGE)', async () => {
    const many = Array.from({ length: 100 }, (_, i) => 41000 + i);
    const { child, creds } = await peerOf({
      wrapper: ['setpriv', '--reuid=41020', '--regid=41021', `--groups=${many.join(',')}`],
    });
    try {
      expect(creds).toEqual({ pid: child.pid, uid: 41020, gid: 41021, groups: many });
      // And back to a short list: the grown buffer must not leak stale entries.
      const again = await peerOf({
        wrapper: ['setpriv', '--reuid=41022', '--regid=41023', '--groups=41024'],
      });
      try {
        expect(again.creds).toEqual({ pid: again.child.pid, uid: 41022, gid: 41023, groups: [41024] });
      } finally {
        await killAndWait(again.child);
      }
    } finally {
      await killAndWait(child);
    }
  });

  it('two peers at once are told apart', async () => {
    const a = await peerOf({ uid: 41030, gid: 41031 });
    const b = await peerOf({ uid: 41032, gid: 41033 });
    try {
      expect(getPeerCredentials(a.socket)).toEqual({ pid: a.child.pid, uid: 41030, gid: 41031, groups: [] });
      expect(getPeerCredentials(b.socket)).toEqual({ pid: b.child.pid, uid: 41032, gid: 41033, groups: [] });
    } finally {
      await killAndWait(a.child);
      await killAndWait(b.child);
    }
  });

  it.runIf(platformSupport().pidfd)(
    'pidfd taken at accept identifies the peer executable through the pool',
    async () => {
      const pool = createTestPool({ threads: 1 });
      const { child, socket, creds } = await peerOf({ uid: USER.uid, gid: USER.gid });
      try {
        const pidfd = openPeerPidfd(socket);
        expect(pidfd).not.toBeNull();
        const info = await pool.processInfo({ pid: creds.pid!, pidfd });
        expect(info).toEqual({ pid: child.pid, exePath: realpathSync(process.execPath) });
      } finally {
        await killAndWait(child);
        await pool.close();
      }
    },
  );
});
