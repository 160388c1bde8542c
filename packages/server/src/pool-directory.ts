import type { CredentialPool } from '@peerauth/core-native';
import type { UserDirectory } from '@peerauth/identity';

/**
 * Adapts the worker pool (getpwuid_r/getgrouplist/getgrgid_r off the main thread) to the resolver's
 * directory. Takes a getter so a server-owned pool is only created when a lookup is actually needed.
 */
export function poolDirectory(pool: CredentialPool | (() => CredentialPool)): UserDirectory {
  const get = typeof pool === 'function' ? pool : () => pool;
  // One worker task for the whole list. A gid without a group entry has no name: never its number, which a
  // groupRoles key could otherwise match.
  const groupsByGid = async (gids: readonly number[]) => {
    const entries = await get().lookupGroups(gids);
    return gids.map((gid, i) => ({ gid, name: entries[i]?.name ?? null }));
  };
  return {
    async userByUid(uid) {
      const user = await get().lookupUser(uid);
      return user ? { name: user.name, gid: user.gid } : null;
    },
    async groupsOf(name, gid) {
      return groupsByGid([...new Set(await get().userGroups(name, gid))]);
    },
    groupsByGid,
  };
}
