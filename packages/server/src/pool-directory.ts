import { type CredentialPool, type CredentialPoolOptions, createCredentialPool } from '@peerauth/core-native';
import type { UserDirectory } from '@peerauth/identity';
import { subordinateOwners } from './subordinate-ids.js';

type NamedGroups = { gid: number; name: string | null }[];

/** The worker pool as the resolver's directory, together with the pool it answers from. */
export interface PoolDirectory extends UserDirectory {
  /** The pool given, or the directory's own, created on first use. */
  readonly pool: CredentialPool;
  groupsOf(name: string, gid: number, caller?: { uid: number }): Promise<NamedGroups>;
  groupsByGid(gids: readonly number[], caller?: { uid: number }): Promise<NamedGroups>;
  /** The pool key of a connecting uid: its own, or its subordinate range's owner (subordinate-ids.ts). */
  keyOf(uid: number): string | number;
  /** Closes the directory's own pool (the next lookup would start a new one); a given pool is left open. */
  close(): Promise<void>;
}

function isPool(value: CredentialPool | CredentialPoolOptions): value is CredentialPool {
  return typeof (value as CredentialPool).lookupUser === 'function';
}

/**
 * Adapts the worker pool (getpwuid_r/getgrouplist/getgrgid_r off the main thread) to the resolver's
 * directory. Given a pool, it uses it and leaves closing it to its owner. Given pool options (or nothing),
 * it owns its pool: created on the first lookup, so a server that needs none (a ready resolver, no process
 * attestation) starts no threads, and closed by close().
 */
export function poolDirectory(
  source: CredentialPool | CredentialPoolOptions = {},
  owners = subordinateOwners(),
): PoolDirectory {
  const given = isPool(source) ? source : null;
  const options = isPool(source) ? {} : source;
  let own: CredentialPool | null = null;
  const pool = (): CredentialPool => {
    if (given) return given;
    own ??= createCredentialPool(options);
    return own;
  };
  return {
    get pool() {
      return pool();
    },
    keyOf: (uid) => owners.key(uid),
    // Every task is queued under the connecting peer's key: one peer (or one user's subordinate uids) runs
    // one lookup at a time, whatever it sends, and peers take turns.
    async userByUid(uid) {
      const user = await pool().lookupUser(uid, { key: owners.key(uid) });
      return user ? { name: user.name, gid: user.gid } : null;
    },
    // One worker task for the user's groups and their names. A gid without a group entry has no name:
    // never its number, which a groupRoles key could otherwise match.
    groupsOf: (name, gid, caller) =>
      pool().userGroupNames(name, gid, caller ? { key: owners.key(caller.uid) } : undefined),
    // One worker task for the whole list.
    async groupsByGid(gids, caller) {
      const entries = await pool().lookupGroups(gids, caller ? { key: owners.key(caller.uid) } : undefined);
      return gids.map((gid, i) => ({ gid, name: entries[i]?.name ?? null }));
    },
    async close() {
      const closing = own;
      own = null;
      await closing?.close();
    },
  };
}
