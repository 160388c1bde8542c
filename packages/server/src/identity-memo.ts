// Repeat connections with the same uid, gid and groups (an HTTP client without keep-alive, a connection
// pool, and each new process of the same user: every new CLI run, every new curl) get, with the directory
// answers cached, the identity the resolver would build again: the pipeline reads the pid nowhere but in
// `identity.pid`. Remembering it skips the resolver and every promise on that path, so such a connection is
// admitted synchronously in its accept callback. The memo is keyed without the pid; a connection from
// another process gets a copy carrying its own pid. The copies of the last few processes are kept, so the
// repeat connections of one process (or of a few taking turns) share one object.
//
// Only identities with a username and built without a failed lookup are remembered: with lookupFailure
// "fallback" a failed or timed-out lookup (of the user or of any group) must be retried by the next
// connection rather than pinned for the TTL. One built while a gid had no name is remembered only for the
// cache's negative TTL, as that answer is: a group created meanwhile must count for the next new process
// as soon as the directory cache asks again. Identities with process attestation are never
// remembered (the same pid can exec another program). An entry never outlives the cached directory
// answers it was built from: one built from an answer about to expire expires with it. Shared identities are frozen so no connection can
// change what another one sees.
import type { PeerCredentials } from '@peerauth/core-native';
import { lookupFailedDuring, type UnixIdentity, unnamedGroupIn, withPid } from '@peerauth/identity';

interface Memo {
  /** The identity of this key's first connection; the copies of later processes differ only in `pid`. */
  identity: UnixIdentity;
  expiresAt: number;
  /** Frozen identities by pid, in the order the processes first came; at most PIDS_PER_KEY (oldest go). */
  byPid: Map<number | null, UnixIdentity>;
}

const PIDS_PER_KEY = 8;

/**
 * Identities with more groups than this are not remembered. The key holds the whole group list: a user in a
 * namespace over 65,536 subordinate gids could otherwise vary its set per connection and park a ~400 KB key
 * (and identity) in each of `max` entries, and building that key would cost every such connection more than
 * the resolver it saves. Real accounts stay far below (macOS caps a process at 16 groups).
 */
export const MEMO_MAX_GROUPS = 256;

/** The credentials of the entry last found, so that a repeat caller's key string is not built again. */
interface LastHit {
  uid: number;
  gid: number;
  groups: readonly number[] | null;
  key: string;
  memo: Memo;
}

function sameGroups(a: readonly number[] | null, b: readonly number[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class IdentityMemo {
  private readonly map = new Map<string, Memo>();
  /** Forgotten whenever an entry goes or is replaced, so that it never names one the map no longer holds. */
  private last: LastHit | null = null;

  constructor(
    private readonly ttlMs: number,
    /** For an identity built while a gid had no name: the directory cache's negative TTL. */
    private readonly negativeTtlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
    /** When the cached directory answers behind an identity expire: a memo entry never outlives them. */
    private readonly answersValidUntil: (credentials: PeerCredentials, username: string) => number = () =>
      Number.POSITIVE_INFINITY,
  ) {}

  // `-` for a kernel that reported no group list, so that it never shares a key with an empty one.
  private static key(c: PeerCredentials): string {
    return c.groups === null ? `${c.uid}:${c.gid}:-` : `${c.uid}:${c.gid}:${c.groups.join(',')}`;
  }

  private remembers(credentials: PeerCredentials): boolean {
    return this.max > 0 && (credentials.groups === null || credentials.groups.length <= MEMO_MAX_GROUPS);
  }

  get(credentials: PeerCredentials): UnixIdentity | undefined {
    if (!this.remembers(credentials)) return undefined;
    const { last } = this;
    let key: string;
    let memo: Memo | undefined;
    if (
      last !== null &&
      last.uid === credentials.uid &&
      last.gid === credentials.gid &&
      sameGroups(last.groups, credentials.groups)
    ) {
      key = last.key;
      memo = last.memo;
    } else {
      key = IdentityMemo.key(credentials);
      memo = this.map.get(key);
      if (memo === undefined) return undefined;
      // A copy: the credentials' own array is handed to the admit hook, which could change it.
      const groups = credentials.groups === null ? null : credentials.groups.slice();
      this.last = { uid: credentials.uid, gid: credentials.gid, groups, key, memo };
    }
    if (memo.expiresAt <= this.now()) {
      this.map.delete(key);
      this.last = null;
      return undefined;
    }
    const known = memo.byPid.get(credentials.pid);
    if (known !== undefined) return known;
    const copy = withPid(memo.identity, credentials.pid);
    memo.byPid.set(credentials.pid, copy);
    if (memo.byPid.size > PIDS_PER_KEY) memo.byPid.delete(memo.byPid.keys().next().value as number | null);
    return copy;
  }

  remember(credentials: PeerCredentials, identity: UnixIdentity): UnixIdentity {
    if (!this.remembers(credentials) || identity.username === null || lookupFailedDuring(identity))
      return identity;
    // Shared by every connection this entry answers: nothing of it may be changed by one connection's handler.
    for (const step of identity.trail) Object.freeze(step);
    Object.freeze(identity.trail);
    Object.freeze(identity.selectors);
    if (identity.groups) Object.freeze(identity.groups);
    Object.freeze(identity);
    this.last = null;
    this.map.set(IdentityMemo.key(credentials), {
      identity,
      expiresAt: Math.min(
        this.now() + (unnamedGroupIn(identity) ? Math.min(this.negativeTtlMs, this.ttlMs) : this.ttlMs),
        this.answersValidUntil(credentials, identity.username),
      ),
      byPid: new Map([[identity.pid, identity]]),
    });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
    return identity;
  }

  clear(): void {
    this.last = null;
    this.map.clear();
  }
}
