// A static in-memory UserDirectory: the tests need deterministic passwd/group data, not the host's.
import type { UserDirectory } from '../src/index.js';

export interface StaticUser {
  name: string;
  gid: number;
}

export interface StaticDirectoryData {
  users: Record<number, StaticUser>;
  /** Group name by gid. */
  groups: Record<number, string>;
  /** Supplementary gids by username (what /etc/group lists the user in). */
  members: Record<string, number[]>;
  /** Also implement the optional groupsByGid. */
  groupsByGid: boolean;
}

export interface RecordingDirectory extends UserDirectory {
  calls: string[];
}

export function staticDirectory(data: Partial<StaticDirectoryData> = {}): RecordingDirectory {
  const users = data.users ?? {};
  const groups = data.groups ?? {};
  const members = data.members ?? {};
  const calls: string[] = [];
  const byGid = data.groupsByGid
    ? {
        async groupsByGid(gids: readonly number[]) {
          calls.push(`groupsByGid(${gids.join(',')})`);
          return gids.map((gid) => ({ gid, name: groups[gid] ?? null }));
        },
      }
    : {};
  return {
    calls,
    ...byGid,
    async userByUid(uid) {
      calls.push(`userByUid(${uid})`);
      return users[uid] ?? null;
    },
    async groupsOf(name, gid) {
      calls.push(`groupsOf(${name}, ${gid})`);
      const gids = [...new Set([gid, ...(members[name] ?? [])])];
      return gids.map((g) => ({ gid: g, name: groups[g] ?? null }));
    },
  };
}

/** The directory most tests share. */
export const hostDirectory = (groupsByGid = false): RecordingDirectory =>
  staticDirectory({
    groupsByGid,
    users: {
      0: { name: 'root', gid: 0 },
      1000: { name: 'alice', gid: 1000 },
      1001: { name: 'bob', gid: 1001 },
      1002: { name: 'svc-backup', gid: 1002 },
      1003: { name: 'svc-unknown', gid: 1003 },
      4300: { name: 'builder', gid: 4300 },
    },
    groups: {
      0: 'root',
      998: 'docker',
      999: 'wheel',
      1000: 'alice',
      1001: 'bob',
      1002: 'svc-backup',
      4300: 'builder',
    },
    members: { bob: [998, 999], 'svc-unknown': [998] },
  });

export const creds = (uid: number, gid = uid, groups: number[] | null = null, pid: number | null = 4242) => ({
  pid,
  uid,
  gid,
  groups,
});

/** A directory whose calls never settle. */
export const hangingDirectory: UserDirectory = {
  userByUid: () => new Promise(() => {}),
  groupsOf: () => new Promise(() => {}),
};
