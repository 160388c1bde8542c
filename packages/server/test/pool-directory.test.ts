// poolDirectory: the worker pool as the resolver's directory. It owns a pool it made and leaves a given
// one to its owner; a user's groups and their names cost one worker task.
import { type CredentialPool, createCredentialPool, PoolClosedError } from '@peerauth/core-native';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { poolDirectory } from '../src/index.js';

// Made and removed by this file (root only): its own names and ids, so no other test's accounts are touched.
const MAIN = { name: 'pa15i-main', gid: 45301 };
const EXTRA = { name: 'pa15i-extra', gid: 45302 };
const USER = { name: 'pa15i-user', uid: 45301, gid: MAIN.gid };

/** The real pool, with the name of every task it is asked for. */
function countingPool(pool: CredentialPool, tasks: string[]): CredentialPool {
  const count =
    <A extends unknown[], R>(name: string, fn: (...args: A) => R) =>
    (...args: A): R => {
      tasks.push(name);
      return fn(...args);
    };
  return {
    lookupUser: count('lookupUser', (uid) => pool.lookupUser(uid)),
    lookupUserByName: count('lookupUserByName', (name) => pool.lookupUserByName(name)),
    lookupGroup: count('lookupGroup', (gid) => pool.lookupGroup(gid)),
    lookupGroups: count('lookupGroups', (gids) => pool.lookupGroups(gids)),
    userGroups: count('userGroups', (name, gid) => pool.userGroups(name, gid)),
    userGroupNames: count('userGroupNames', (name, gid) => pool.userGroupNames(name, gid)),
    processInfo: count('processInfo', (peer, opts) => pool.processInfo(peer, opts)),
    close: () => pool.close(),
  };
}

describe('poolDirectory', () => {
  it('without a pool: makes its own on first use, keeps it, and closes it in close()', async () => {
    const directory = poolDirectory({ threads: 1 });
    const pool = directory.pool;
    expect(directory.pool).toBe(pool);
    expect(await directory.userByUid(0)).toEqual({ name: 'root', gid: 0 });
    await directory.close();
    await expect(pool.lookupUser(0)).rejects.toBeInstanceOf(PoolClosedError);
    // A lookup after close starts a new pool rather than failing.
    expect(directory.pool).not.toBe(pool);
    expect(await directory.userByUid(0)).toEqual({ name: 'root', gid: 0 });
    await directory.close();
  });

  it('with a pool: uses it and leaves it open in close()', async () => {
    const pool = createCredentialPool({ threads: 1 });
    try {
      const directory = poolDirectory(pool);
      expect(directory.pool).toBe(pool);
      await directory.close();
      expect(await pool.lookupUser(0)).toMatchObject({ name: 'root' });
    } finally {
      await pool.close();
    }
  });

  it("groupsOf: root's groups and their names in one worker task", async () => {
    const pool = createCredentialPool({ threads: 1 });
    const tasks: string[] = [];
    try {
      const directory = poolDirectory(countingPool(pool, tasks));
      const groups = await directory.groupsOf('root', 0);
      expect(tasks).toEqual(['userGroupNames']);
      expect(groups).toContainEqual({ gid: 0, name: (await pool.lookupGroup(0))?.name });
      expect(new Set(groups.map((g) => g.gid)).size).toBe(groups.length);
    } finally {
      await pool.close();
    }
  });
});

describeAsRoot('poolDirectory with a created user', () => {
  beforeAll(() => {
    removeTestUser(USER.name);
    removeTestGroup(MAIN.name);
    removeTestGroup(EXTRA.name);
    createTestGroup(MAIN.name, MAIN.gid);
    createTestGroup(EXTRA.name, EXTRA.gid);
    createTestUser(USER.name, { uid: USER.uid, gid: USER.gid, supplementary: [EXTRA.name] });
  });
  afterAll(() => {
    removeTestUser(USER.name);
    removeTestGroup(MAIN.name);
    removeTestGroup(EXTRA.name);
  });

  it('groupsOf names the primary and the supplementary group, in one worker task', async () => {
    const pool = createCredentialPool({ threads: 1 });
    const tasks: string[] = [];
    try {
      const directory = poolDirectory(countingPool(pool, tasks));
      const groups = await directory.groupsOf(USER.name, USER.gid);
      expect([...groups].sort((a, b) => a.gid - b.gid)).toEqual([
        { gid: MAIN.gid, name: MAIN.name },
        { gid: EXTRA.gid, name: EXTRA.name },
      ]);
      expect(tasks).toEqual(['userGroupNames']);
    } finally {
      await pool.close();
    }
  });
});
