import type { CredentialPool } from '@peerauth/core-native';
import type { UserDirectory } from '@peerauth/identity';

/**
 * Adapts the worker pool (getpwuid_r/getgrouplist off the main thread) to the resolver's directory.
 * Takes a getter so a server-owned pool is only created when a lookup is actually needed.
 */
export function poolDirectory(pool: CredentialPool | (() => CredentialPool)): UserDirectory {
  const get = typeof pool === 'function' ? pool : () => pool;
  return {
    async userByUid(uid) {
      const user = await get().lookupUser(uid);
      return user ? { name: user.name, gid: user.gid } : null;
    },
    async groupsOf(name, gid) {
      const p = get();
      const unique = [...new Set(await p.userGroups(name, gid))];
      const entries = await Promise.all(unique.map((g) => p.lookupGroup(g)));
      // A gid without a group entry still counts for membership; its name is then the number.
      return unique.map((g, i) => ({ gid: g, name: entries[i]?.name ?? String(g) }));
    },
  };
}
