// createResolver: the I/O around the pure stages. Directory calls are bounded by a timeout and never make
// resolve() reject: a slow or broken NSS must not lock peers out, it only costs them their name.
import { type IdentityConfig, parseIdentityConfig } from './config.js';
import { InvalidUidError } from './errors.js';
import {
  indexConfig,
  type Lookup,
  type PeerGroups,
  type PeopleIndex,
  peerGroups,
  personStage,
  roleStage,
  spiffeStage,
  usernameStage,
} from './pipeline.js';
import { buildSelectors } from './selectors.js';
import type { Identity, Logger, PeerCredentialsLike, ProcessLike, UserDirectory } from './types.js';

export const DEFAULT_TIMEOUT_MS = 1000;

export interface ResolverOptions {
  /** Bound on each directory call (user, then groups). Default 1000 ms. */
  timeoutMs?: number;
  /** Told about directory failures and timeouts (pino-compatible). Default: one Node process warning per resolver. */
  logger?: Logger;
}

export interface Resolver {
  readonly config: IdentityConfig;
  readonly directory: UserDirectory;
  resolve(creds: PeerCredentialsLike, process?: ProcessLike): Promise<Identity>;
  /** The same config and options over another directory (e.g. a caching one). */
  withDirectory(directory: UserDirectory): Resolver;
}

const RESOLVER = Symbol.for('@peerauth/identity.resolver');

export function isResolver(value: unknown): value is Resolver {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[RESOLVER] === true;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
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
    return { ok: false, reason: describeError(err) };
  }
  if (!isThenable(answer)) return { ok: true, value: answer };
  const pending = answer;
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, reason: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
    const settle = (result: Lookup<T>): void => {
      clearTimeout(timer);
      resolve(result);
    };
    Promise.resolve(pending).then(
      (value) => settle({ ok: true, value }),
      (err: unknown) => settle({ ok: false, reason: describeError(err) }),
    );
  });
}

function checkUser(value: unknown): Lookup<{ name: string; gid: number } | null> {
  if (value === null || value === undefined) return { ok: true, value: null };
  const v = value as { name?: unknown; gid?: unknown };
  if (typeof v.name === 'string' && v.name !== '' && Number.isInteger(v.gid)) {
    return { ok: true, value: { name: v.name, gid: v.gid as number } };
  }
  return { ok: false, reason: 'directory returned a malformed user entry' };
}

function checkGroups(value: unknown): Lookup<{ gid: number; name: string }[]> {
  if (!Array.isArray(value)) return { ok: false, reason: 'directory returned a malformed group list' };
  const groups = value.filter(
    (g): g is { gid: number; name: string } =>
      typeof g === 'object' && g !== null && Number.isInteger(g.gid) && typeof g.name === 'string',
  );
  return { ok: true, value: groups.map((g) => ({ gid: g.gid, name: g.name })) };
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

/**
 * Freeze the parsed config's own structure: every identity shares these person objects, and code serving
 * one peer must not be able to change another's role. Values of unknown person fields are the caller's
 * objects (zod passes them through), so they are left alone.
 */
function freezeConfig(config: IdentityConfig): IdentityConfig {
  for (const person of config.people) {
    if (person.uids) Object.freeze(person.uids);
    Object.freeze(person);
  }
  Object.freeze(config.people);
  if (config.roles) Object.freeze(config.roles);
  Object.freeze(config.groupRoles);
  for (const rule of config.userMaps) Object.freeze(rule);
  Object.freeze(config.userMaps);
  return Object.freeze(config);
}

interface Settings {
  timeoutMs: number;
  logger: Logger;
}

function assertCredentials(creds: PeerCredentialsLike): void {
  const valid = (n: unknown): boolean =>
    Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
  if (!valid(creds?.uid)) throw new InvalidUidError(creds?.uid);
}

class PeerResolver implements Resolver {
  readonly config: IdentityConfig;
  readonly directory: UserDirectory;
  readonly [RESOLVER] = true;
  readonly #index: PeopleIndex;
  readonly #settings: Settings;

  constructor(config: IdentityConfig, directory: UserDirectory, settings: Settings, index?: PeopleIndex) {
    this.config = config;
    this.directory = directory;
    this.#settings = settings;
    this.#index = index ?? indexConfig(config);
  }

  withDirectory(directory: UserDirectory): Resolver {
    return new PeerResolver(this.config, directory, this.#settings, this.#index);
  }

  /** Group list for the role stage and selectors, asking groupByGid (when there is one) for unnamed gids. */
  async #nameGroups(
    creds: PeerCredentialsLike,
    groupLookup: Lookup<{ gid: number; name: string }[]> | null,
  ): Promise<PeerGroups> {
    const groups = peerGroups(creds, groupLookup);
    const byGid = this.directory.groupByGid?.bind(this.directory);
    const unnamed = groups.ordered.filter((g) => g.name === null).map((g) => g.gid);
    if (!byGid || unnamed.length === 0) return groups;
    const { timeoutMs, logger } = this.#settings;
    const answers = await Promise.all(unnamed.map((gid) => call(() => byGid(gid), timeoutMs)));
    const names = new Map<number, string>();
    answers.forEach((answer, i) => {
      const gid = unnamed[i]!;
      const entry = answer.ok ? answer.value : null;
      if (entry && typeof entry.name === 'string' && entry.name !== '') names.set(gid, entry.name);
      if (!answer.ok) {
        logger.warn(
          { uid: creds.uid, gid, lookup: 'groupByGid', reason: answer.reason, timeoutMs },
          `peerauth: group lookup for gid ${gid} failed; it stays unnamed`,
        );
      }
    });
    return peerGroups(creds, groupLookup, names);
  }

  async resolve(creds: PeerCredentialsLike, process?: ProcessLike): Promise<Identity> {
    assertCredentials(creds);
    const { timeoutMs, logger } = this.#settings;
    const userLookup = await call(() => this.directory.userByUid(creds.uid), timeoutMs);
    const user = userLookup.ok ? checkUser(userLookup.value) : userLookup;
    if (!user.ok) {
      logger.warn(
        { uid: creds.uid, lookup: 'userByUid', reason: user.reason, timeoutMs },
        `peerauth: user lookup for uid ${creds.uid} failed; resolving without a username`,
      );
    }
    const username = usernameStage(creds.uid, user);

    let groupLookup: Lookup<{ gid: number; name: string }[]> | null = null;
    if (username.username !== null) {
      const name = username.username;
      const answer = await call(() => this.directory.groupsOf(name, creds.gid), timeoutMs);
      groupLookup = answer.ok ? checkGroups(answer.value) : answer;
      if (!groupLookup.ok) {
        logger.warn(
          { uid: creds.uid, username: name, lookup: 'groupsOf', reason: groupLookup.reason, timeoutMs },
          `peerauth: group lookup for ${JSON.stringify(name)} failed; resolving without group names`,
        );
      }
    }
    const groups = await this.#nameGroups(creds, groupLookup);
    const person = personStage(this.#index, creds.uid, username.username);
    const role = roleStage(this.config, this.#index, person.person, groups);
    const spiffe = spiffeStage(this.config.trustDomain, creds.uid, process);
    return {
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
  }
}

/**
 * A resolver for `config` (validated here: IdentityConfigError when invalid) over `directory`.
 * resolve() only rejects for credentials no kernel produces (InvalidUidError).
 */
export function createResolver(
  config: IdentityConfig | unknown,
  directory: UserDirectory,
  options: ResolverOptions = {},
): Resolver {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
  }
  return new PeerResolver(freezeConfig(parseIdentityConfig(config)), directory, {
    timeoutMs,
    logger: options.logger ?? defaultLogger(),
  });
}
