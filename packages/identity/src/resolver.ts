// createResolver: the I/O around the pure stages. Directory calls are bounded by a timeout. A call that
// fails or times out is not "no entry": by default (lookupFailure "reject") resolve() rejects with
// IdentityLookupError, because a peer whose person or groups are unknown could be given a role the config
// withholds from them; lookupFailure "fallback" resolves without what the failed call would have told.
import {
  type IdentityConfig,
  type ParsedIdentityConfig,
  type Person,
  parseIdentityConfig,
} from './config.js';
import {
  type IdentityLookup,
  IdentityLookupError,
  IdentityRangeError,
  InvalidUidError,
  SvidVerificationError,
} from './errors.js';
import { type GroupNamer, groupNamer } from './group-namer.js';
import { markLookupFailed, markUnnamedGroup } from './lookup-failed.js';
import {
  indexConfig,
  type Lookup,
  listSome,
  MAX_LISTED,
  type PeerGroups,
  type PeopleIndex,
  type PersonResult,
  peerGroups,
  personStage,
  type RoleResult,
  roleStage,
  type SpiffeResult,
  spiffeStage,
  type UsernameResult,
  unique,
  usernameStage,
} from './pipeline.js';
import { buildSelectors } from './selectors.js';
import type { VerifiedSvid } from './svid.js';
import type {
  Logger,
  MaybePromise,
  PeerCredentialsLike,
  ProcessLike,
  SvidIdentity,
  TrailStep,
  UnixIdentity,
  UserDirectory,
} from './types.js';

/** A remote peer has no groups: groupRoles never apply to it. */
const NO_GROUPS: PeerGroups = Object.freeze({
  primaryGroup: null,
  supplementary: [],
  ordered: [],
  source: 'a remote peer has no groups',
  cut: 0,
});

export const DEFAULT_TIMEOUT_MS = 1000;
/**
 * Most gids named per connection (primary first, then the supplementary ones in the kernel's order).
 * A process may hold 65,536 groups (a user namespace over its subordinate gids): naming them all is 65,536
 * getgrgid_r calls, past any lookup deadline. Gids past the cap stay unnamed; `gid:N` groupRoles keys
 * still match them by number.
 */
export const DEFAULT_MAX_GROUP_NAMES = 64;

export interface ResolverOptions {
  /** Bound on each directory call (user, then groups). Default 1000 ms. A call past it is a failed lookup. */
  timeoutMs?: number;
  /** Told about directory failures and timeouts (pino-compatible). Default: one Node process warning per resolver. */
  logger?: Logger;
  /**
   * Most gids named per connection (default 64): the primary gid, then supplementary gids in the order the
   * kernel (or groupsOf) lists them. The rest stay unnamed: group-name keys of groupRoles do not match them,
   * `gid:N` keys do, and the trail counts them.
   */
  maxGroupNames?: number;
}

export interface Resolver {
  readonly config: ParsedIdentityConfig;
  readonly directory: UserDirectory;
  resolve(creds: PeerCredentialsLike, process?: ProcessLike): Promise<UnixIdentity>;
  /**
   * The identity of a remote peer whose X.509-SVID passed OpenSSL's path validation and checkSvidRules: its person by spiffeIds or
   * spiffeMaps, their role or the fallback role. Pure and synchronous. Throws SvidVerificationError
   * (PEERAUTH_SVID_UNTRUSTED_DOMAIN) when the SVID's trust domain is not in the config's trustDomains.
   */
  resolveSvid(svid: Pick<VerifiedSvid, 'spiffeId' | 'trustDomain'>): SvidIdentity;
  /**
   * resolve() without a promise when it is not needed: the identity itself when every directory answer is
   * at hand (a warm cache answers with plain values), else a promise. Throws what resolve() rejects with.
   * For the server's accept path, where a promise per connection is a measurable cost.
   */
  resolveNow(creds: PeerCredentialsLike, process?: ProcessLike): MaybePromise<UnixIdentity>;
  /** The same config and options over another directory (e.g. a caching one). */
  withDirectory(directory: UserDirectory): Resolver;
}

const RESOLVER = Symbol.for('@peerauth/identity.resolver');

export function isResolver(value: unknown): value is Resolver {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[RESOLVER] === true;
}

// `CODE: message` as core-native's formatError() writes it (this package cannot import core-native); an
// error without a code is its message alone.
function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** A directory may say it gave up waiting itself: core-native's pool rejects with code PEERAUTH_LOOKUP_TIMEOUT. */
function isTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'PEERAUTH_LOOKUP_TIMEOUT';
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** `next` applied to a value now, or once it arrives: no promise unless one was given. */
function then<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isThenable(value) ? value.then(next) : next(value);
}

/**
 * One directory call. An answer given synchronously (a cache hit) is used as it is: no timer, no race.
 * Only a pending answer is raced against the timeout.
 */
function call<T>(fn: () => T | Promise<T>, timeoutMs: number): Lookup<T> | Promise<Lookup<T>> {
  let answer: T | Promise<T>;
  try {
    answer = fn();
  } catch (err) {
    return { ok: false, reason: describeError(err), timedOut: false, cause: err };
  }
  if (!isThenable(answer)) return { ok: true, value: answer };
  const pending = answer;
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, reason: `timed out after ${timeoutMs} ms`, timedOut: true }),
      timeoutMs,
    );
    const settle = (result: Lookup<T>): void => {
      clearTimeout(timer);
      resolve(result);
    };
    Promise.resolve(pending).then(
      (value) => settle({ ok: true, value }),
      (err: unknown) =>
        settle({ ok: false, reason: describeError(err), timedOut: isTimeout(err), cause: err }),
    );
  });
}

function checkUser(value: unknown): Lookup<{ name: string; gid: number } | null> {
  if (value === null || value === undefined) return { ok: true, value: null };
  const v = value as { name?: unknown; gid?: unknown };
  // Only the name is read from it: the directory's entry is used as it is, not copied.
  if (typeof v.name === 'string' && v.name !== '' && Number.isInteger(v.gid)) {
    return { ok: true, value: v as { name: string; gid: number } };
  }
  return { ok: false, reason: 'directory returned a malformed user entry', timedOut: false };
}

type NamedGids = { gid: number; name: string | null }[];

/** A group list answer; a gid without a usable name is unnamed, never named after its number. */
function checkGroups(value: unknown): Lookup<NamedGids> {
  if (!Array.isArray(value)) {
    return { ok: false, reason: 'directory returned a malformed group list', timedOut: false };
  }
  const out: NamedGids = [];
  for (const g of value) {
    if (typeof g !== 'object' || g === null || !Number.isInteger(g.gid)) continue;
    out.push({ gid: g.gid, name: typeof g.name === 'string' && g.name !== '' ? g.name : null });
  }
  return { ok: true, value: out };
}

function defaultLogger(): Logger {
  let warned = false;
  return {
    warn(obj, msg) {
      if (warned) return;
      warned = true;
      process.emitWarning(
        `${msg ?? 'directory lookup failed'} ${JSON.stringify(obj)} (further failures not shown: pass options.logger)`,
        {
          code: 'PEERAUTH_DIRECTORY',
        },
      );
    },
  };
}

interface Settings {
  timeoutMs: number;
  logger: Logger;
  maxGroupNames: number;
}

function assertCredentials(creds: PeerCredentialsLike): void {
  const valid = (n: unknown): boolean =>
    Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
  if (!valid(creds?.uid)) throw new InvalidUidError(creds?.uid);
}

/** `result` with a step object of its own (an application may change its identity's trail). */
function freshStep<R extends { step: TrailStep }>(result: R): R {
  const { stage, result: decided, detail } = result.step;
  return { ...result, step: { stage, result: decided, detail } };
}

/** The same groups for the role stage: gids and names in order, where they came from, the cut. */
function sameGroups(a: PeerGroups, b: PeerGroups): boolean {
  if (a.source !== b.source || (a.cut ?? 0) !== (b.cut ?? 0) || a.ordered.length !== b.ordered.length)
    return false;
  for (let i = 0; i < a.ordered.length; i++) {
    const x = a.ordered[i] as PeerGroups['ordered'][number];
    const y = b.ordered[i] as PeerGroups['ordered'][number];
    if (x.gid !== y.gid || x.name !== y.name) return false;
  }
  return true;
}

/** What one resolve() call has seen so far. */
interface Run {
  lookupFailed: boolean;
}

class PeerResolver implements Resolver {
  readonly config: ParsedIdentityConfig;
  readonly directory: UserDirectory;
  readonly [RESOLVER] = true;
  readonly #index: PeopleIndex;
  readonly #settings: Settings;
  /**
   * The directory's groupsByGid, bound, and the function it was bound from: bound again only when the
   * directory's groupsByGid changes (a directory may gain one later), not for every connection.
   */
  #byGid: GroupNamer | undefined;
  #byGidOf: unknown;
  /**
   * The last SPIFFE and person stage results, keyed by their inputs: connections come in runs from the
   * same uid and executable, and a repeat reuses the texts (the same strings: less to build, and one copy
   * held by every identity that has it instead of one each). Each identity still gets its own step objects.
   */
  #lastSpiffe: { uid: number; exePath: string | undefined; result: SpiffeResult } | null = null;
  #lastPerson: { uid: number; username: string | null; spiffeId: string; result: PersonResult } | null = null;
  #lastRole: { person: Person | null; groups: PeerGroups; result: RoleResult } | null = null;
  #lastUsername: { uid: number; name: string; result: UsernameResult } | null = null;

  constructor(
    config: ParsedIdentityConfig,
    directory: UserDirectory,
    settings: Settings,
    index?: PeopleIndex,
  ) {
    this.config = config;
    this.directory = directory;
    this.#settings = settings;
    this.#index = index ?? indexConfig(config);
    this.#byGidOf = directory.groupsByGid;
    this.#byGid = groupNamer(directory);
  }

  #namer(): GroupNamer | undefined {
    if (this.directory.groupsByGid !== this.#byGidOf) {
      this.#byGidOf = this.directory.groupsByGid;
      this.#byGid = groupNamer(this.directory);
    }
    return this.#byGid;
  }

  withDirectory(directory: UserDirectory): Resolver {
    return new PeerResolver(this.config, directory, this.#settings, this.#index);
  }

  /**
   * A failed lookup: with lookupFailure "reject", resolution stops here; with "fallback", it is logged and
   * resolution goes on without that answer.
   */
  #failed(
    run: Run,
    lookup: IdentityLookup,
    subject: string,
    failure: Extract<Lookup<unknown>, { ok: false }>,
    log: object,
  ): void {
    run.lookupFailed = true;
    const { timeoutMs, logger } = this.#settings;
    if (this.config.lookupFailure === 'reject') {
      throw new IdentityLookupError(lookup, subject, failure.reason, failure.timedOut, {
        cause: failure.cause,
      });
    }
    logger.warn(
      { ...log, lookup, reason: failure.reason, timeoutMs },
      `peerauth: ${lookup} for ${subject} failed; lookupFailure is "fallback", resolving without it`,
    );
  }

  /** groupsOf (getgrouplist): the gids it lists, their names added to `names`. */
  #listedGroups(
    run: Run,
    creds: PeerCredentialsLike,
    username: string,
    names: Map<number, string>,
  ): MaybePromise<number[]> {
    const answer = call(
      () => this.directory.groupsOf(username, creds.gid, { uid: creds.uid }),
      this.#settings.timeoutMs,
    );
    return then(answer, (a) => this.#listed(run, creds, username, names, a));
  }

  #listed(
    run: Run,
    creds: PeerCredentialsLike,
    username: string,
    names: Map<number, string>,
    answer: Lookup<unknown>,
  ): number[] {
    const listed = answer.ok ? checkGroups(answer.value) : answer;
    if (!listed.ok) {
      this.#failed(run, 'groupsOf', `user ${JSON.stringify(username)} (gid ${creds.gid})`, listed, {
        uid: creds.uid,
        username,
      });
      return [];
    }
    for (const g of listed.value) if (g.name !== null) names.set(g.gid, g.name);
    return listed.value.map((g) => g.gid);
  }

  /** Membership (the kernel's list when reported, else the directory's) and the names of those gids. */
  #groups(run: Run, creds: PeerCredentialsLike, username: string | null): MaybePromise<PeerGroups> {
    const names = new Map<number, string>();
    const byGid = this.#namer();
    const { maxGroupNames, timeoutMs } = this.#settings;
    const named = (supplementary: number[], source: string): MaybePromise<PeerGroups> => {
      const all = unique([creds.gid, ...supplementary]);
      // Bounded work per connection, whatever the peer holds: only the first maxGroupNames are named.
      const cut = Math.max(0, all.length - maxGroupNames);
      const described =
        cut === 0
          ? source
          : `${source}; the first ${maxGroupNames} of ${all.length} gids named, ${cut} more not (maxGroupNames)`;
      const unnamed: number[] = [];
      const asked = cut === 0 ? all.length : maxGroupNames;
      for (let i = 0; i < asked; i++) if (!names.has(all[i] as number)) unnamed.push(all[i] as number);
      if (!byGid || unnamed.length === 0) return peerGroups(creds, supplementary, names, described, cut);
      return then(
        call(() => byGid(unnamed, { uid: creds.uid }), timeoutMs),
        (answer) => {
          const found = answer.ok ? checkGroups(answer.value) : answer;
          if (!found.ok) {
            // The gids a message lists are capped too: a refusal's audit line stays short.
            const subject = `gid${unnamed.length === 1 ? '' : 's'} ${listSome(unnamed, String)}`;
            this.#failed(run, 'groupsByGid', subject, found, {
              uid: creds.uid,
              gids: unnamed.slice(0, MAX_LISTED),
            });
          } else {
            // At most maxGroupNames gids were asked for: a scan, no Set, for the usual few.
            const asked = unnamed.length > 16 ? new Set(unnamed) : null;
            for (const g of found.value) {
              if (g.name !== null && (asked === null ? unnamed.includes(g.gid) : asked.has(g.gid)))
                names.set(g.gid, g.name);
            }
          }
          return peerGroups(creds, supplementary, names, described, cut);
        },
      );
    };
    const kernelGroups = creds.groups;
    if (kernelGroups !== null) {
      const source = 'kernel-reported groups';
      // A directory that cannot name single gids still names the user's own groups through groupsOf;
      // membership stays the kernel's.
      if (!byGid && username !== null)
        return then(this.#listedGroups(run, creds, username, names), () => named(kernelGroups, source));
      return named(kernelGroups, source);
    }
    if (username === null)
      return named(
        [],
        'no group list: the kernel reported none and there is no username to ask the directory for',
      );
    return then(this.#listedGroups(run, creds, username, names), (listed) =>
      named(listed, 'directory groups (the kernel reported no group list)'),
    );
  }

  async resolve(creds: PeerCredentialsLike, process?: ProcessLike): Promise<UnixIdentity> {
    return this.resolveNow(creds, process);
  }

  resolveSvid(svid: Pick<VerifiedSvid, 'spiffeId' | 'trustDomain'>): SvidIdentity {
    const { spiffeId, trustDomain } = svid;
    // checkSvidRules chained it to a bundle the caller chose; this config must accept that trust domain too.
    if (!Object.hasOwn(this.config.trustDomains, trustDomain)) {
      throw new SvidVerificationError(
        'PEERAUTH_SVID_UNTRUSTED_DOMAIN',
        `trust domain ${JSON.stringify(trustDomain)} of ${JSON.stringify(spiffeId)} is not in the config's trustDomains`,
        spiffeId,
      );
    }
    const person = personStage(this.#index, null, null, spiffeId);
    const role = roleStage(this.config, this.#index, person.person, NO_GROUPS);
    return {
      auth: 'x509-svid',
      trustDomain,
      person: person.person,
      role: role.role,
      fallback: role.fallback,
      spiffeId,
      // Selectors describe what this machine attested about a local process; a remote peer has none.
      selectors: [],
      trail: [
        {
          stage: 'spiffe',
          result: spiffeId,
          detail: `URI SAN of an X.509-SVID verified against the bundle of ${JSON.stringify(trustDomain)}`,
        },
        person.step,
        role.step,
      ],
    };
  }

  resolveNow(creds: PeerCredentialsLike, process?: ProcessLike): MaybePromise<UnixIdentity> {
    assertCredentials(creds);
    const run: Run = { lookupFailed: false };
    const userLookup = call(() => this.directory.userByUid(creds.uid), this.#settings.timeoutMs);
    return then(userLookup, (answer) => {
      const user = answer.ok ? checkUser(answer.value) : answer;
      // The subject and log fields are built only for a failure: this runs for every connection.
      if (!user.ok) this.#failed(run, 'userByUid', `uid ${creds.uid}`, user, { uid: creds.uid });
      const username = this.#username(creds.uid, user);
      return then(this.#groups(run, creds, username.username), (groups) =>
        this.#identity(run, creds, process, username, groups),
      );
    });
  }

  #spiffe(uid: number, process: ProcessLike | undefined): SpiffeResult {
    const last = this.#lastSpiffe;
    if (last !== null && last.uid === uid && last.exePath === process?.exePath) return freshStep(last.result);
    const result = spiffeStage(this.config.trustDomain, uid, process);
    this.#lastSpiffe = { uid, exePath: process?.exePath, result };
    return freshStep(result);
  }

  #person(uid: number, username: string | null, spiffeId: string): PersonResult {
    const last = this.#lastPerson;
    if (last !== null && last.uid === uid && last.username === username && last.spiffeId === spiffeId)
      return freshStep(last.result);
    const result = personStage(this.#index, uid, username, spiffeId);
    this.#lastPerson = { uid, username, spiffeId, result };
    return freshStep(result);
  }

  #role(person: Person | null, groups: PeerGroups): RoleResult {
    const last = this.#lastRole;
    if (last !== null && last.person === person && (person !== null || sameGroups(last.groups, groups)))
      return freshStep(last.result);
    const result = roleStage(this.config, this.#index, person, groups);
    this.#lastRole = { person, groups, result };
    return freshStep(result);
  }

  #username(uid: number, user: Lookup<{ name: string; gid: number } | null>): UsernameResult {
    // A failure's text names its reason: only found users are remembered.
    if (!user.ok || user.value === null) return usernameStage(uid, user);
    const last = this.#lastUsername;
    if (last !== null && last.uid === uid && last.name === user.value.name) return freshStep(last.result);
    const result = usernameStage(uid, user);
    this.#lastUsername = { uid, name: user.value.name, result };
    return freshStep(result);
  }

  #identity(
    run: Run,
    creds: PeerCredentialsLike,
    process: ProcessLike | undefined,
    username: ReturnType<typeof usernameStage>,
    groups: PeerGroups,
  ): UnixIdentity {
    const spiffe = this.#spiffe(creds.uid, process);
    const person = this.#person(creds.uid, username.username, spiffe.spiffeId);
    const role = this.#role(person.person, groups);
    const identity: UnixIdentity = {
      auth: 'unix',
      uid: creds.uid,
      gid: creds.gid,
      pid: creds.pid ?? process?.pid ?? null,
      groups: creds.groups,
      username: username.username,
      person: person.person,
      role: role.role,
      fallback: role.fallback,
      spiffeId: spiffe.spiffeId,
      selectors: buildSelectors({
        creds,
        username: username.username,
        primaryGroup: groups.primaryGroup,
        supplementary: groups.supplementary,
        process,
      }),
      trail: [username.step, person.step, role.step, spiffe.step],
    };
    // A gid past maxGroupNames is unnamed by the cap, the same every time: only a gid the directory had no
    // name for rests on a negative answer.
    const asked = groups.ordered.length - (groups.cut ?? 0);
    for (let i = 0; i < asked; i++) {
      if ((groups.ordered[i] as PeerGroups['ordered'][number]).name === null) {
        markUnnamedGroup(identity);
        break;
      }
    }
    return run.lookupFailed ? markLookupFailed(identity) : identity;
  }
}

/**
 * A resolver for `config` over `directory`. A ParsedIdentityConfig is used as it is; anything else is
 * validated here (IdentityConfigError when invalid).
 * resolve() rejects for credentials no kernel produces (InvalidUidError) and, unless the config's
 * lookupFailure is "fallback", when a directory call fails or times out (IdentityLookupError).
 */
export function createResolver(
  config: IdentityConfig | unknown,
  directory: UserDirectory,
  options: ResolverOptions = {},
): Resolver {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new IdentityRangeError(
      `timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`,
    );
  }
  const maxGroupNames = options.maxGroupNames ?? DEFAULT_MAX_GROUP_NAMES;
  if (!(Number.isInteger(maxGroupNames) && maxGroupNames >= 1)) {
    throw new IdentityRangeError(`maxGroupNames must be a whole number >= 1, got ${String(maxGroupNames)}`);
  }
  return new PeerResolver(parseIdentityConfig(config), directory, {
    timeoutMs,
    logger: options.logger ?? defaultLogger(),
    maxGroupNames,
  });
}
