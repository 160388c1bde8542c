// The server's options, checked in one place: one zod schema turns what createPeerServer was given into a
// frozen ServerSettings, before anything is created, and every part of the server reads the settings,
// never the options. A bad value is InvalidServerOptionError naming the option's path (`cache.identities`,
// `tls.port`) and the rule it broke; the socket mode keeps its own InvalidModeError and PEERAUTH_LOG_LEVEL
// its InvalidLogLevelError, as documented. Defaults live here too, beside the rules.
//
// The one check that needs more than the options is the tls option against the identity config's trust
// domains: tlsSettings() makes it once the config is parsed (the resolver parses it), also here.
import path from 'node:path';
import { type CredentialPool, InvalidArgumentError, PeerAuthRangeError } from '@peerauth/core-native';
import {
  didYouMean,
  type IdentityConfig,
  type ParsedIdentityConfig,
  type Resolver,
} from '@peerauth/identity';
import { z } from 'zod';
import type { AdmitHook } from './admission.js';
import type { ProcessOptions } from './attest.js';
import type { ConnectionLimits } from './connection-limits.js';
import { InvalidLogLevelError, InvalidServerOptionError } from './errors.js';
import type { PeerLogger } from './logger.js';
import { DEFAULT_MODE, parseMode } from './mode.js';
import type { ParsedTlsOptions } from './tls-listener.js';

/** pino's levels, and `silent`: what PEERAUTH_LOG_LEVEL may say. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const logLevelSchema = z.enum(LOG_LEVELS);

/** PEERAUTH_LOG_LEVEL, or InvalidLogLevelError listing the valid levels (pino's own message names none). */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === '') return 'info';
  const parsed = logLevelSchema.safeParse(value);
  if (!parsed.success) throw new InvalidLogLevelError(value, LOG_LEVELS);
  return parsed.data;
}

export const DEFAULT_TTL_MS = 60_000;
export const DEFAULT_NEGATIVE_TTL_MS = 5_000;
export const DEFAULT_FAILURE_TTL_MS = 1_000;
const DEFAULT_CACHE_MAX = 10_000;
const DEFAULT_MEMO_IDENTITIES = 1024;
// Long enough for a slow network, short enough that a client which never finishes its handshake does not
// hold a descriptor (or a shutdown) for Node's default two minutes.
const HANDSHAKE_TIMEOUT_MS = 10_000;
// Far below the default descriptor limit (1024) and enough for bursts of honest clients: a handshake takes
// milliseconds, so 64 at once is hundreds per second.
const MAX_PENDING_HANDSHAKES = 64;
// The most tls.maxPendingHandshakes may be. A handshake waiting beyond what the process can finish within
// the handshake timeout only waits to be dropped: a mutual-TLS handshake costs the one event-loop thread
// 1 to 3 ms of CPU (3 ms measured for ECDSA P-256 on a shared 2-vCPU VM), so 4096 at once is 4 to 12 s of
// its work, about the default timeout (10 s), while each waiting one holds a descriptor and OpenSSL's state.
// A larger count would bound neither the descriptors the Unix socket needs nor the memory.
export const MAX_PENDING_HANDSHAKES_LIMIT = 4096;
const HANDSHAKES_RULE = `expected a whole number from 1 to ${MAX_PENDING_HANDSHAKES_LIMIT}`;
const TLS_POLL_MS = 60_000;
// setTimeout keeps at most a signed 32-bit delay; beyond it Node warns and fires after 1 ms, which would
// turn a long idle or drain timeout into an immediate one.
const MAX_TIMER_MS = 2 ** 31 - 1;

// Each rule carries its own message: zod's generic ones do not say what the option wants.
const boolean = z.boolean({ error: 'expected true or false' });
const nonEmptyString = z.string({ error: 'expected a non-empty string' }).min(1, {
  error: 'expected a non-empty string',
});
function whole(min: number, maxMs?: number, detail = `expected a whole number >= ${min}`) {
  const rule = z.number({ error: detail }).int({ error: detail }).min(min, { error: detail });
  return maxMs === undefined ? rule : rule.max(maxMs, { error: `expected at most ${maxMs} milliseconds` });
}
function milliseconds(min: number, max?: number) {
  const detail = `expected a number of milliseconds >= ${min}`;
  const rule = z.number({ error: detail }).min(min, { error: detail });
  return max === undefined ? rule : rule.max(max, { error: `expected at most ${max} milliseconds` });
}
/** A value the server keeps as given (a logger, a pool, a hook): checked for its kind, never copied. */
function given<T>(test: (value: unknown) => boolean, detail: string) {
  return z.custom<T>(test, { error: detail });
}
const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null;

const cacheFields = {
  ttlMs: milliseconds(0).optional(),
  negativeTtlMs: milliseconds(0).optional(),
  failureTtlMs: milliseconds(0).optional(),
  max: z.number({ error: 'expected a number >= 0' }).min(0, { error: 'expected a number >= 0' }).optional(),
};

const tlsSchema = z
  .strictObject(
    {
      host: nonEmptyString,
      port: whole(0, undefined, 'expected a whole number from 0 to 65535').max(65535, {
        error: 'expected a whole number from 0 to 65535',
      }),
      certFile: nonEmptyString.optional(),
      keyFile: nonEmptyString.optional(),
      workloadApi: nonEmptyString.optional(),
      pollMs: milliseconds(10, MAX_TIMER_MS).default(TLS_POLL_MS),
      maxPendingHandshakes: whole(1, undefined, HANDSHAKES_RULE)
        .max(MAX_PENDING_HANDSHAKES_LIMIT, {
          error: HANDSHAKES_RULE,
        })
        .default(MAX_PENDING_HANDSHAKES),
      handshakeTimeoutMs: whole(100, MAX_TIMER_MS).default(HANDSHAKE_TIMEOUT_MS),
    },
    { error: 'expected { host, port, certFile, keyFile } or { host, port, workloadApi }' },
  )
  .superRefine((tls, ctx) => {
    if (tls.workloadApi !== undefined && (tls.certFile !== undefined || tls.keyFile !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['workloadApi'],
        message: 'the SVID comes from the Workload API: give workloadApi, or certFile and keyFile, not both',
      });
  });

/** The tls option checked for itself; tlsSettings() adds what the identity config says. */
export type TlsShape = z.output<typeof tlsSchema>;

// Every object level is strict: an unknown key is a typo (`maxConnection`) that would otherwise run the
// server without the rule it meant to set. zod strips unknown keys silently by default.
const schema = z
  .strictObject({
    path: nonEmptyString.optional(),
    // The mode's own rule (mode.ts, shared with the CLI's --mode) and its own error class.
    mode: z
      .unknown()
      .transform((value, ctx) => {
        try {
          return parseMode(value as number | string);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message, params: { error } });
          return z.NEVER;
        }
      })
      .optional(),
    // Parsed by createResolver, which has its own schema and errors (@peerauth/identity).
    identity: z.unknown().optional(),
    allowRoles: z
      .array(z.string({ error: 'expected a role name (a string)' }), {
        error: 'expected an array of role names',
      })
      .optional(),
    maxConnections: whole(1).optional(),
    admit: given<AdmitHook>(
      (v) => typeof v === 'function',
      'expected a function (identity, credentials)',
    ).optional(),
    maxConnectionsPerUid: whole(1).optional(),
    reservedConnections: whole(0).optional(),
    idleTimeoutMs: whole(1, MAX_TIMER_MS).optional(),
    cache: z
      .strictObject(
        { ...cacheFields, identities: whole(0).optional() },
        { error: 'expected an object { ttlMs, negativeTtlMs, failureTtlMs, max, identities }' },
      )
      .optional(),
    logger: given<PeerLogger>(
      (v) =>
        isObject(v) &&
        ['info', 'warn', 'error'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
      'expected a pino-compatible logger with info, warn and error methods',
    ).optional(),
    pool: given<CredentialPool>(isObject, 'expected a CredentialPool').optional(),
    process: z
      .union([boolean, z.strictObject({ sha256: boolean.optional() })], {
        error: 'expected true, false or { sha256 }',
      })
      .optional(),
    listenFds: z
      .union([z.boolean(), z.literal('auto')], { error: "expected true, false or 'auto'" })
      .optional(),
    asyncContext: boolean.optional(),
    // listen(2) takes 0 too; Node then uses its default (511).
    backlog: whole(0).optional(),
    handleSignals: z
      .union([z.boolean(), z.literal('close')], { error: "expected true, false or 'close'" })
      .optional(),
    drainTimeoutMs: milliseconds(0, MAX_TIMER_MS).optional(),
    allowHalfOpen: boolean.optional(),
    refusal: z.enum(['close', 'http'], { error: "expected 'close' or 'http'" }).optional(),
    tls: tlsSchema.optional(),
  })
  .superRefine((options, ctx) => {
    const reserved = options.reservedConnections ?? 0;
    const max = options.maxConnections;
    if (reserved > 0 && (max === undefined || reserved >= max))
      ctx.addIssue({
        code: 'custom',
        path: ['reservedConnections'],
        message:
          max === undefined
            ? 'reserves slots of maxConnections, which is not set'
            : `expected fewer than maxConnections (${max})`,
      });
  });

/** What the per-uid user/group cache and the identity memo run with. */
export interface CacheSettings {
  readonly ttlMs: number;
  readonly negativeTtlMs: number;
  readonly failureTtlMs: number;
  /** Most entries per table, at least 1. */
  readonly max: number;
  readonly now: () => number;
}

/** Everything the server runs with, checked and with its defaults: what every part reads. */
export interface ServerSettings {
  /** The socket path asked for; undefined for defaultSocketPath(). */
  readonly path: string | undefined;
  readonly mode: number;
  /** Whether a mode was asked for (only then is its reach checked). */
  readonly modeGiven: boolean;
  readonly identity: IdentityConfig | object | Resolver | undefined;
  /** Roles admitted; null admits every role. */
  readonly allowRoles: ReadonlySet<string> | null;
  /** Infinity for no limit. */
  readonly maxConnections: number;
  readonly admit: AdmitHook | null;
  readonly limits: ConnectionLimits;
  readonly cache: CacheSettings;
  /** How many identities the memo keeps; 0 disables it. */
  readonly memoIdentities: number;
  /** The logger given, or null for the default one at `logLevel`. */
  readonly logger: PeerLogger | null;
  /**
   * PEERAUTH_LOG_LEVEL, read only when no logger is given: the default logger is pino at 'info' on stderr, so
   * accepted/closed connections form an audit trail out of the box (like sshd's "Accepted ..." lines) while
   * stdout stays free for the application. The variable changes the level without code changes ('warn'
   * keeps only refusals and problems, 'silent' nothing).
   */
  readonly logLevel: LogLevel;
  readonly pool: CredentialPool | undefined;
  /** Process attestation's options; null when off. */
  readonly process: Readonly<ProcessOptions> | null;
  readonly listenFds: boolean | 'auto';
  readonly asyncContext: boolean;
  readonly backlog: number | undefined;
  readonly handleSignals: boolean | 'close';
  /** null: close() waits for every connection. */
  readonly drainTimeoutMs: number | null;
  readonly allowHalfOpen: boolean;
  readonly refusal: 'close' | 'http';
  readonly tls: Readonly<TlsShape> | null;
}

/** createPeerServer's options checked once, into settings that cannot change under the server. */
export function parseServerOptions(options: unknown, env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const given = options ?? {};
  const parsed = schema.safeParse(given);
  if (!parsed.success) throw optionError(parsed.error.issues, given);
  const o = parsed.data;
  const cache = o.cache ?? {};
  return Object.freeze({
    path: o.path,
    mode: o.mode ?? DEFAULT_MODE,
    modeGiven: o.mode !== undefined,
    identity: o.identity as ServerSettings['identity'],
    allowRoles: o.allowRoles ? new Set(o.allowRoles) : null,
    maxConnections: o.maxConnections ?? Number.POSITIVE_INFINITY,
    admit: o.admit ?? null,
    limits: Object.freeze({
      maxConnectionsPerUid: o.maxConnectionsPerUid ?? Number.POSITIVE_INFINITY,
      reservedConnections: o.reservedConnections ?? 0,
      idleTimeoutMs: o.idleTimeoutMs ?? null,
    }),
    cache: cacheSettings(cache),
    memoIdentities: cache.identities ?? DEFAULT_MEMO_IDENTITIES,
    logger: o.logger ?? null,
    logLevel: o.logger === undefined ? parseLogLevel(env.PEERAUTH_LOG_LEVEL) : 'info',
    pool: o.pool,
    process: o.process ? Object.freeze(o.process === true ? {} : o.process) : null,
    listenFds: o.listenFds ?? 'auto',
    asyncContext: o.asyncContext ?? true,
    backlog: o.backlog,
    handleSignals: o.handleSignals ?? false,
    drainTimeoutMs: o.drainTimeoutMs ?? null,
    allowHalfOpen: o.allowHalfOpen ?? false,
    refusal: o.refusal ?? 'close',
    tls: o.tls ? Object.freeze(o.tls) : null,
  });
}

const cacheSchema = z.strictObject(
  {
    ...cacheFields,
    now: given<() => number>((v) => typeof v === 'function', 'expected a function').optional(),
  },
  { error: 'expected an object { ttlMs, negativeTtlMs, failureTtlMs, max }' },
);

/**
 * createCachingDirectory's options, by the same rules as the server's `cache` option; a bad value is the
 * PeerAuthRangeError that function has always thrown, an unknown key (not a value out of range) the
 * invalid-argument error it is a form of.
 */
export function parseCacheOptions(options: unknown): CacheSettings {
  const given = options ?? {};
  const parsed = cacheSchema.safeParse(given);
  if (!parsed.success) {
    const { path: at, message, value, unknownKey } = firstProblem(parsed.error.issues, given, CACHE_KEYS);
    const text = `invalid cache${at ? `.${at}` : ''} ${shown(value)}: ${message}`;
    // The class follows the issue the message describes, not whichever zod listed first.
    if (unknownKey) throw new InvalidArgumentError(text);
    throw new PeerAuthRangeError(text);
  }
  return cacheSettings(parsed.data);
}

function cacheSettings(cache: {
  ttlMs?: number | undefined;
  negativeTtlMs?: number | undefined;
  failureTtlMs?: number | undefined;
  max?: number | undefined;
  now?: (() => number) | undefined;
}): CacheSettings {
  return Object.freeze({
    ttlMs: cache.ttlMs ?? DEFAULT_TTL_MS,
    negativeTtlMs: cache.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS,
    failureTtlMs: cache.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS,
    max: Math.max(1, cache.max ?? DEFAULT_CACHE_MAX),
    now: cache.now ?? Date.now,
  });
}

/**
 * The tls option with the bundle files of the config's trustDomains (relative paths from the cwd), or, with
 * workloadApi, the trust domains whose bundles the agent sends.
 */
export function tlsSettings(tls: Readonly<TlsShape>, config: ParsedIdentityConfig): ParsedTlsOptions {
  const { host, port, maxPendingHandshakes, handshakeTimeoutMs } = tls;
  const domains = Object.entries(config.trustDomains);
  if (domains.length === 0) {
    throw new InvalidServerOptionError(
      'tls',
      { host, port },
      'the identity config names no trustDomains, so no client certificate could ever be verified; add ' +
        '"trustDomains": { "<trust domain>": { "bundle": "<PEM file>" } } (or { } per domain with workloadApi)',
    );
  }
  const base = { host, port, maxPendingHandshakes, handshakeTimeoutMs };
  if (tls.workloadApi !== undefined) {
    // One source of bundles: a file beside the agent's stream would leave open which one decides.
    const withFile = domains.filter(([, d]) => d.bundle !== undefined).map(([td]) => td);
    if (withFile.length)
      throw new InvalidServerOptionError(
        'tls.workloadApi',
        tls.workloadApi,
        `every bundle comes from the Workload API, but the config's trustDomains give a bundle file for ${withFile.join(', ')}: ` +
          'write { } for each trust domain',
      );
    return {
      ...base,
      material: { kind: 'workload-api', endpoint: tls.workloadApi, trustDomains: domains.map(([td]) => td) },
    };
  }
  const noFile = domains.filter(([, d]) => d.bundle === undefined).map(([td]) => td);
  if (noFile.length)
    throw new InvalidServerOptionError(
      'tls',
      { host, port },
      `the config's trustDomains give no bundle file for ${noFile.join(', ')}: add "bundle": "<PEM file>", ` +
        'or take every bundle from the SPIRE agent with tls.workloadApi',
    );
  // Required only here: with workloadApi the SVID comes from the agent.
  for (const name of ['certFile', 'keyFile'] as const)
    if (tls[name] === undefined)
      throw new InvalidServerOptionError(`tls.${name}`, undefined, 'expected a non-empty string');
  return {
    ...base,
    material: {
      kind: 'files',
      certFile: path.resolve(tls.certFile as string),
      keyFile: path.resolve(tls.keyFile as string),
      pollMs: tls.pollMs,
      bundleFiles: new Map(domains.map(([td, { bundle }]) => [td, path.resolve(bundle as string)])),
    },
  };
}

type Issue = z.core.$ZodIssue;

/** The keys an object level of the options takes, by its dotted path ('' for the top), and its name. */
type KnownKeys = ReadonlyMap<string, { name: string; keys: readonly string[] }>;

const CACHE_KEYS: KnownKeys = new Map([
  ['', { name: 'createCachingDirectory', keys: Object.keys(cacheSchema.shape) }],
]);

const SERVER_KEYS: KnownKeys = new Map([
  ['', { name: 'createPeerServer', keys: Object.keys(schema.shape) }],
  ['cache', { name: 'cache', keys: [...Object.keys(cacheFields), 'identities'] }],
  ['process', { name: 'process', keys: ['sha256'] }],
  ['tls', { name: 'tls', keys: Object.keys(tlsSchema.shape) }],
]);

/** An unknown key is reported at its own path (`cache.ttlMS`); zod puts it on the object holding it. */
function issuePath(issue: Issue): PropertyKey[] {
  return issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] as string] : issue.path;
}

/**
 * The first issue, as the option's dotted path, the rule's message and the value given there. A union
 * whose value matched one branch's type (an object for `process`) reports that branch's inner issue,
 * which names the field (`process.sha256`) rather than the whole option. An unknown key names the level
 * it is not an option of and, when one is close, the key probably meant.
 */
function firstProblem(
  issues: readonly Issue[],
  given: unknown,
  known: KnownKeys,
): { path: string; message: string; value: unknown; error?: unknown; unknownKey: boolean } {
  let issue = issues[0] as Issue;
  let prefix: PropertyKey[] = [];
  while (issue.code === 'invalid_union') {
    const inner = issue.errors.filter((branch) => branch.some((i) => issuePath(i).length > 0));
    if (inner.length !== 1) break;
    prefix = [...prefix, ...issue.path];
    issue = (inner[0] as Issue[])[0] as Issue;
  }
  const at = [...prefix, ...issuePath(issue)];
  let value = given;
  for (const key of at) value = isObject(value) ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  const error =
    issue.code === 'custom' ? (issue.params as { error?: unknown } | undefined)?.error : undefined;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = String(at[at.length - 1]);
    const level = known.get(at.slice(0, -1).map(String).join('.'));
    message = `not an option of ${level?.name ?? 'these options'}${didYouMean(key, level?.keys ?? [])}`;
  }
  const unknownKey = issue.code === 'unrecognized_keys';
  return { path: at.map(String).join('.'), message, value, error, unknownKey };
}

function optionError(issues: readonly Issue[], given: unknown): Error {
  const { path: at, message, value, error } = firstProblem(issues, given, SERVER_KEYS);
  // A rule with an error class of its own (the mode's) throws that one.
  if (error instanceof Error) return error;
  return new InvalidServerOptionError(at, value, message);
}

function shown(value: unknown): string {
  return typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
}
