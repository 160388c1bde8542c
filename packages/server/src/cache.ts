// A caching UserDirectory: passwd/group lookups are slow (NSS may go to LDAP) and identical for every
// connection from the same uid, so they are cached per uid (group names per gid) with a TTL, negatively
// cached when there is no entry, bounded in size, and single-flight so a burst of connections from one uid
// costs one lookup. Failed lookups are never cached.
import { type DirectoryCaller, groupNamer, type MaybePromise, type UserDirectory } from '@peerauth/identity';
import { DirectoryNoAnswerError } from './errors.js';
import { type CacheSettings, parseCacheOptions } from './options.js';

export interface CacheOptions {
  /** How long a found user/group list stays valid. Default 60 s. */
  ttlMs?: number;
  /** How long "no such uid" stays valid; shorter so a newly created user is seen soon. Default 5 s. */
  negativeTtlMs?: number;
  /**
   * How long a failed lookup is remembered as a failure (the same error for every caller meanwhile).
   * Default 1 s; 0 asks again at once.
   */
  failureTtlMs?: number;
  /** Most entries kept per table (users, group lists); entries not used recently go first. Default 10,000. */
  max?: number;
  /** @internal Clock, injectable for tests. */
  now?: () => number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
}

export interface CachingDirectory extends UserDirectory {
  readonly inner: UserDirectory;
  /**
   * The earliest time one of the cached answers an identity of these credentials was built from expires
   * (the user, its group list, the names of its gids): what is built from them must not be kept longer.
   */
  validUntil(
    credentials: { uid: number; gid: number; groups: readonly number[] | null },
    username: string,
  ): number;
  stats(): CacheStats;
  clear(): void;
}

interface Entry<V> {
  // The promise itself is cached: concurrent callers share one in-flight lookup.
  value: Promise<V>;
  // Set once the lookup has answered: a hit hands back the plain value, which the resolver uses without a
  // timeout timer or a pool round trip.
  settled?: { value: V };
  expiresAt: number;
  // Second-chance bit (CLOCK): a hit only sets it; eviction gives used entries another round. Cheaper on
  // the hot path than moving the entry to the end of the Map on every hit.
  used: boolean;
}

/** A TTL cache bounded by `max`, evicting by CLOCK (second chance), an approximation of LRU. */
class ClockCache<K, V> {
  private readonly map = new Map<K, Entry<V>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly negativeTtlMs: number,
    private readonly failureTtlMs: number,
    private readonly max: number,
    private readonly now: () => number,
    private readonly isNegative: (value: V) => boolean,
  ) {}

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }

  /** The cached answer (plain once settled, else the pending promise), or undefined on a miss. */
  private hit(key: K): { value: MaybePromise<V> } | undefined {
    const hit = this.map.get(key);
    if (hit && hit.expiresAt > this.now()) {
      this.hits++;
      hit.used = true;
      return { value: hit.settled ? hit.settled.value : hit.value };
    }
    this.misses++;
    if (hit) this.map.delete(key);
    return undefined;
  }

  /** When the settled answer for `key` stops being valid; Infinity when none is cached (nothing to outlive). */
  expiresAt(key: K): number {
    const entry = this.map.get(key);
    return entry?.settled ? entry.expiresAt : Number.POSITIVE_INFINITY;
  }

  get(key: K, load: () => MaybePromise<V>): MaybePromise<V> {
    const hit = this.hit(key);
    if (hit) return hit.value;
    return this.install(key, attempt(load));
  }

  /**
   * Many keys at once: the misses are loaded together by one `loadMany` call (one worker task), each
   * then cached under its own key. Plain values when every key was a settled hit.
   */
  getMany(keys: readonly K[], loadMany: (missing: K[]) => MaybePromise<Map<K, V>>): MaybePromise<V[]> {
    const byKey = new Map<K, MaybePromise<V>>();
    const missing: K[] = [];
    for (const key of new Set(keys)) {
      const hit = this.hit(key);
      if (hit) byKey.set(key, hit.value);
      else missing.push(key);
    }
    if (missing.length > 0) {
      const batch = attempt(() => loadMany(missing));
      for (const key of missing) {
        const one = batch.then((found) => {
          if (!found.has(key)) throw new DirectoryNoAnswerError(String(key));
          return found.get(key) as V;
        });
        byKey.set(key, this.install(key, one));
      }
    }
    const answers = keys.map((key) => byKey.get(key) as MaybePromise<V>);
    return answers.some((a) => a instanceof Promise) ? Promise.all(answers) : (answers as V[]);
  }

  private install(key: K, loading: Promise<V>): Promise<V> {
    const entry: Entry<V> = { value: loading, expiresAt: Number.POSITIVE_INFINITY, used: false };
    this.map.set(key, entry);
    this.evict();
    entry.value.then(
      (value) => {
        // The TTL starts when the answer arrives; a slow lookup does not shorten its own validity.
        if (this.map.get(key) === entry) {
          entry.settled = { value };
          entry.expiresAt = this.now() + (this.isNegative(value) ? this.negativeTtlMs : this.ttlMs);
        }
      },
      () => {
        // A failure (a timeout, an NSS error) is remembered briefly, as the failure: callers meanwhile get
        // the same rejection, so a flood of one failing id does not reach NSS each time.
        if (this.map.get(key) !== entry) return;
        if (this.failureTtlMs > 0) entry.expiresAt = this.now() + this.failureTtlMs;
        else this.map.delete(key);
      },
    );
    return entry.value;
  }

  private evict(): void {
    // Bounded: each pass clears at most every used bit once, so this ends within two sweeps.
    let budget = this.map.size * 2;
    while (this.map.size > this.max && budget-- > 0) {
      const oldest = this.map.entries().next();
      if (oldest.done) return;
      const [key, entry] = oldest.value;
      this.map.delete(key);
      if (entry.used) {
        entry.used = false;
        this.map.set(key, entry);
      }
    }
  }
}

function attempt<T>(load: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(load());
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * `derived` are caches built from this directory's answers (the server's identity memo): clear() empties
 * them too, so nothing built from a forgotten answer outlives it. The options follow the server's `cache`
 * rules (options.ts); a bad one is a PeerAuthRangeError.
 */
export function createCachingDirectory(
  inner: UserDirectory,
  options: CacheOptions = {},
  derived: readonly { clear(): void }[] = [],
): CachingDirectory {
  return cachingDirectory(inner, parseCacheOptions(options), derived);
}

/** createCachingDirectory with settings already checked (the server's, from its options). */
export function cachingDirectory(
  inner: UserDirectory,
  settings: CacheSettings,
  derived: readonly { clear(): void }[] = [],
): CachingDirectory {
  const { ttlMs, negativeTtlMs, failureTtlMs, max, now } = settings;
  type User = Awaited<ReturnType<UserDirectory['userByUid']>>;
  type Groups = Awaited<ReturnType<UserDirectory['groupsOf']>>;
  const table = <K, V>(isNegative: (value: V) => boolean) =>
    new ClockCache<K, V>(ttlMs, negativeTtlMs, failureTtlMs, max, now, isNegative);
  const users = table<number, User>((v) => v === null);
  const groups = table<string, Groups>(() => false);
  const groupNames = table<number, string | null>((v) => v === null);
  const tables = [users, groups, groupNames];
  const namesOf = groupNamer(inner);
  const groupsByGid = namesOf
    ? (gids: readonly number[], caller?: DirectoryCaller) => {
        const names = groupNames.getMany(gids, async (missing) => {
          const answer = await namesOf(missing, caller);
          return new Map(answer.map((g) => [g.gid, g.name] as const));
        });
        const pair = (list: (string | null)[]) => gids.map((gid, i) => ({ gid, name: list[i] ?? null }));
        return Array.isArray(names) ? pair(names) : names.then(pair);
      }
    : undefined;
  return {
    inner,
    userByUid: (uid) => users.get(uid, () => inner.userByUid(uid)),
    groupsOf: (name, gid, caller) => groups.get(`${gid}:${name}`, () => inner.groupsOf(name, gid, caller)),
    ...(groupsByGid ? { groupsByGid } : {}),
    validUntil: (credentials, username) => {
      let until = Math.min(
        users.expiresAt(credentials.uid),
        groups.expiresAt(`${credentials.gid}:${username}`),
      );
      until = Math.min(until, groupNames.expiresAt(credentials.gid));
      for (const gid of credentials.groups ?? []) until = Math.min(until, groupNames.expiresAt(gid));
      return until;
    },
    stats: () => ({
      hits: tables.reduce((n, t) => n + t.hits, 0),
      misses: tables.reduce((n, t) => n + t.misses, 0),
      size: tables.reduce((n, t) => n + t.size, 0),
    }),
    clear: () => {
      for (const t of tables) t.clear();
      for (const d of derived) d.clear();
    },
  };
}
