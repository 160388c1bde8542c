// The identity config: a zod schema for shape, then cross-field checks (roles, duplicates, userMaps) that
// run on whatever parts are well-formed, so a single pass reports every problem.
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { z } from 'zod';
import { type ConfigIssue, IdentityConfigError } from './errors.js';
import { groupRoleKeyProblem } from './group-keys.js';
import { findJsonSyntaxError, findRepeatedKeys, lineAndColumn } from './json-syntax.js';
import { findControlCharacter } from './printable.js';
import { trustDomainProblem } from './spiffe.js';
import { parseSpiffeId, spiffeIdProblem } from './spiffe-id.js';
import { didYouMean } from './suggest.js';
import {
  captureGroupCount,
  compilePattern,
  isTemplate,
  literalName,
  patternProblem,
  templateGroupRefs,
  type UserMapRule,
} from './usermaps.js';

export const DEFAULT_TRUST_DOMAIN = 'peerauth.local';
export const DEFAULT_FALLBACK_ROLE = 'public';

/**
 * What a failed or timed-out user/group lookup does: "reject" (default) refuses the peer, since nobody
 * knows who it is; "fallback" resolves it as if it had no passwd/group entry, which can admit a person
 * the config refuses (their role is never looked up) as the fallback role.
 */
export type LookupFailureMode = 'reject' | 'fallback';
export const LOOKUP_FAILURE_MODES: readonly LookupFailureMode[] = ['reject', 'fallback'];

export interface Person {
  name: string;
  role: string;
  osUsername?: string;
  uids?: number[];
  /**
   * SPIFFE IDs that are this person: a remote peer's X.509-SVID ID, or a local peer's own
   * `spiffe://<trustDomain>/uid-<uid>[/<executable>]`, so a workload keeps its person when it moves.
   */
  spiffeIds?: string[];
  /** Other identity channels (telegram, discord, email...) are kept as they are. */
  [channel: string]: unknown;
}

export interface IdentityConfig {
  trustDomain: string;
  fallbackRole: string;
  roles?: string[];
  people: Person[];
  groupRoles: Record<string, string>;
  userMaps: UserMapRule[];
  /** Whole-SPIFFE-ID patterns naming people, as userMaps do for usernames. */
  spiffeMaps: SpiffeMapRule[];
  /** The trust domains remote peers may come from, each with the file of its X.509 bundle (or none: see bundle). */
  trustDomains: Record<string, TrustDomainConfig>;
  lookupFailure: LookupFailureMode;
  /** `peerauth proxy` only: what it does with the client's request headers (see the CLI README). */
  proxy?: ProxyConfig;
}

export interface ProxyConfig {
  /** More client header names to drop, beside the built-in families; `X-Acme-*` drops a prefix. */
  dropHeaders?: string[];
  /** When set, the only client headers forwarded (names, or prefixes as `X-Acme-*`); everything else is dropped. */
  forwardHeaders?: string[];
}

export interface SpiffeMapRule {
  /** A regular expression over the whole SPIFFE ID (anchored), with the same syntax as userMaps' systemUser. */
  spiffeId: string;
  /** A person's name, or a template with `$1`.. for capture groups. */
  person: string;
  ignoreCase?: boolean;
}

export interface TrustDomainConfig {
  /**
   * Path of the PEM file with the trust domain's CA certificates (what spiffe-helper writes). Left out when
   * the bundle comes from the SPIFFE Workload API instead (a server's `tls.workloadApi`).
   */
  bundle?: string;
}

const MAX_UID = 0xffffffff;
const TOP_LEVEL_KEYS = [
  '$schema',
  'trustDomain',
  'fallbackRole',
  'roles',
  'people',
  'groupRoles',
  'userMaps',
  'spiffeMaps',
  'trustDomains',
  'lookupFailure',
  'proxy',
];
const PROXY_KEYS = ['dropHeaders', 'forwardHeaders'];
const USER_MAP_KEYS = ['systemUser', 'person', 'ignoreCase'];
const SPIFFE_MAP_KEYS = ['spiffeId', 'person', 'ignoreCase'];
const TRUST_DOMAIN_KEYS = ['bundle'];

const nonEmpty = z.string().min(1, 'must not be empty');
const uid = z
  .number()
  .int('must be an integer uid')
  .min(0, 'must be a uid in 0..4294967295')
  .max(MAX_UID, 'must be a uid in 0..4294967295');

const personSchema = z.looseObject({
  name: nonEmpty,
  role: nonEmpty,
  osUsername: nonEmpty.optional(),
  uids: z.array(uid).optional(),
  spiffeIds: z.array(nonEmpty).optional(),
});

const userMapSchema = z.strictObject({
  systemUser: nonEmpty,
  person: nonEmpty,
  ignoreCase: z.boolean().optional(),
});

const spiffeMapSchema = z.strictObject({
  spiffeId: nonEmpty,
  person: nonEmpty,
  ignoreCase: z.boolean().optional(),
});

// No bundle: the server takes the domain's bundle from the SPIFFE Workload API (tls.workloadApi).
const trustDomainSchema = z.strictObject({ bundle: nonEmpty.optional() });

// A header field name (RFC 9110 token), optionally ending in `*` for a prefix.
const headerPattern = z
  .string()
  .regex(
    /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/,
    'must be a header name (letters, digits, -), or a prefix ending in *',
  )
  .refine((v) => !v.slice(0, -1).includes('*'), 'only a trailing * is allowed (a prefix)');

const proxySchema = z.strictObject({
  dropHeaders: z.array(headerPattern).optional(),
  forwardHeaders: z.array(headerPattern).optional(),
});

const configSchema = z.strictObject({
  $schema: z.string().optional(),
  trustDomain: z.string().default(DEFAULT_TRUST_DOMAIN),
  fallbackRole: nonEmpty.default(DEFAULT_FALLBACK_ROLE),
  roles: z.array(nonEmpty).optional(),
  people: z.array(personSchema, {
    error: (issue) =>
      issue.input === undefined ? 'required: a list of people (it may be empty)' : undefined,
  }),
  groupRoles: z.record(z.string(), nonEmpty).default({}),
  userMaps: z.array(userMapSchema).default([]),
  spiffeMaps: z.array(spiffeMapSchema).default([]),
  trustDomains: z.record(z.string(), trustDomainSchema).default({}),
  lookupFailure: z
    .enum(['reject', 'fallback'], {
      error: 'must be "reject" (refuse the peer) or "fallback" (treat as no entry)',
    })
    .default('reject'),
  proxy: proxySchema.optional(),
});

type Segment = string | number;

interface RawIssue {
  path: Segment[];
  message: string;
}

/**
 * `people[2].role`, `groupRoles["my-group"]` (zod's own path format, as in its prettifyError); `(root)` for
 * the whole document. A key with DEL is quoted by zod but DEL is left raw, so it is escaped here: these
 * paths go to terminals and logs.
 */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return z.core.toDotPath(path).replaceAll('\u007f', '\\u007f') || '(root)';
}

function zodIssues(error: z.ZodError): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (issue.code === 'unrecognized_keys') {
      const known =
        path.length === 0
          ? TOP_LEVEL_KEYS
          : path[0] === 'spiffeMaps'
            ? SPIFFE_MAP_KEYS
            : path[0] === 'trustDomains'
              ? TRUST_DOMAIN_KEYS
              : path[0] === 'proxy'
                ? PROXY_KEYS
                : USER_MAP_KEYS;
      for (const key of issue.keys) {
        out.push({ path: [...path, key], message: `unknown field${didYouMean(key, known)}` });
      }
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function personLabel(index: number, person: unknown): string {
  const name = isRecord(person) && typeof person.name === 'string' ? ` (${JSON.stringify(person.name)})` : '';
  return `people[${index}]${name}`;
}

function checkTrustDomain(raw: Record<string, unknown>, issues: RawIssue[]): void {
  if (typeof raw.trustDomain !== 'string') return;
  const problem = trustDomainProblem(raw.trustDomain);
  if (problem) {
    issues.push({
      path: ['trustDomain'],
      message: `invalid trust domain ${JSON.stringify(raw.trustDomain)}: ${problem}`,
    });
  }
}

function checkRoles(raw: Record<string, unknown>, issues: RawIssue[]): void {
  if (!Array.isArray(raw.roles)) return;
  const roles = raw.roles.filter((r): r is string => typeof r === 'string');
  const known = new Set(roles);
  const check = (path: Segment[], role: unknown, note = ''): void => {
    if (typeof role !== 'string' || role === '' || known.has(role)) return;
    const hint = didYouMean(role, roles);
    const listed = roles.length
      ? ` (roles: ${roles.map((r) => JSON.stringify(r)).join(', ')})`
      : ' (roles is empty)';
    issues.push({ path, message: `unknown role ${JSON.stringify(role)}${note}${hint || listed}` });
  };
  asArray(raw.people).forEach((person, i) => {
    if (isRecord(person)) check(['people', i, 'role'], person.role);
  });
  if (isRecord(raw.groupRoles)) {
    for (const [group, role] of Object.entries(raw.groupRoles)) check(['groupRoles', group], role);
  }
  if (raw.fallbackRole === undefined) {
    check(['fallbackRole'], DEFAULT_FALLBACK_ROLE, ' (the default fallbackRole: add it to roles or set one)');
  } else {
    check(['fallbackRole'], raw.fallbackRole);
  }
}

function checkDuplicatePeople(raw: Record<string, unknown>, issues: RawIssue[]): void {
  const names = new Map<string, number>();
  const usernames = new Map<string, number>();
  const uids = new Map<number, number>();
  const people = asArray(raw.people);
  people.forEach((person, i) => {
    if (!isRecord(person)) return;
    if (typeof person.name === 'string' && person.name !== '') {
      const first = names.get(person.name);
      if (first === undefined) names.set(person.name, i);
      else {
        issues.push({
          path: ['people', i, 'name'],
          message: `duplicate name ${JSON.stringify(person.name)}: already used by people[${first}] (userMaps name people, so names must be unique)`,
        });
      }
    }
    if (typeof person.osUsername === 'string' && person.osUsername !== '') {
      const first = usernames.get(person.osUsername);
      if (first === undefined) usernames.set(person.osUsername, i);
      else {
        issues.push({
          path: ['people', i, 'osUsername'],
          message: `duplicate osUsername ${JSON.stringify(person.osUsername)}: already used by ${personLabel(first, people[first])}`,
        });
      }
    }
    asArray(person.uids).forEach((u, j) => {
      if (typeof u !== 'number' || !Number.isInteger(u)) return;
      const first = uids.get(u);
      if (first === undefined) uids.set(u, i);
      else {
        const by =
          first === i
            ? 'listed twice for the same person'
            : `already used by ${personLabel(first, people[first])}`;
        issues.push({ path: ['people', i, 'uids', j], message: `duplicate uid ${u}: ${by}` });
      }
    });
  });
}

/** userMaps and spiffeMaps: a valid pattern in `field`, and a `person` that names someone. */
function checkMaps(
  raw: Record<string, unknown>,
  issues: RawIssue[],
  key: 'userMaps' | 'spiffeMaps',
  field: 'systemUser' | 'spiffeId',
): void {
  const names = asArray(raw.people)
    .map((p) => (isRecord(p) && typeof p.name === 'string' ? p.name : undefined))
    .filter((n): n is string => n !== undefined);
  const known = new Set(names);
  asArray(raw[key]).forEach((rule, i) => {
    if (!isRecord(rule)) return;
    let groups: number | undefined;
    const pattern = rule[field];
    if (typeof pattern === 'string' && pattern !== '') {
      const problem = patternProblem(pattern);
      if (problem) issues.push({ path: [key, i, field], message: problem });
      else groups = captureGroupCount(compilePattern(pattern));
    }
    if (typeof rule.person !== 'string' || rule.person === '') return;
    if (isTemplate(rule.person)) {
      // Which person a template names depends on the username, so it is checked when resolving.
      const tooHigh = templateGroupRefs(rule.person).filter((n) => groups !== undefined && n > groups);
      if (tooHigh.length) {
        issues.push({
          path: [key, i, 'person'],
          message: `${JSON.stringify(rule.person)} refers to capture group $${tooHigh[0]} but ${field} has ${groups} group${groups === 1 ? '' : 's'}`,
        });
      }
    } else {
      const name = literalName(rule.person);
      if (!known.has(name)) {
        issues.push({
          path: [key, i, 'person'],
          message: `names no person: no entry in people has name ${JSON.stringify(name)}${didYouMean(name, names)}`,
        });
      }
    }
  });
}

/**
 * Names, roles and group names travel into environment variables, HTTP headers and log lines, where a
 * control character is refused (NUL), splits a value (newline) or drives a terminal (ESC).
 */
function checkPrintable(raw: Record<string, unknown>, issues: RawIssue[]): void {
  const check = (path: Segment[], value: unknown, what = ''): void => {
    if (typeof value !== 'string') return;
    const found = findControlCharacter(value);
    if (!found) return;
    issues.push({
      path,
      message: `${what}contains a control character (${found.codePoint}) at index ${found.index}: names, roles and group names must be printable`,
    });
  };
  check(['fallbackRole'], raw.fallbackRole);
  asArray(raw.roles).forEach((role, i) => {
    check(['roles', i], role);
  });
  asArray(raw.people).forEach((person, i) => {
    if (!isRecord(person)) return;
    check(['people', i, 'name'], person.name);
    check(['people', i, 'role'], person.role);
  });
  if (isRecord(raw.groupRoles)) {
    for (const [group, role] of Object.entries(raw.groupRoles)) {
      check(['groupRoles', group], group, 'group name ');
      check(['groupRoles', group], role);
    }
  }
}

/** A later rule with the same pattern can never apply: the first one always matches first. */
function checkDuplicateMaps(
  raw: Record<string, unknown>,
  issues: RawIssue[],
  key: 'userMaps' | 'spiffeMaps',
  field: 'systemUser' | 'spiffeId',
): void {
  const seen = new Map<string, number>();
  asArray(raw[key]).forEach((rule, i) => {
    if (!isRecord(rule) || typeof rule[field] !== 'string' || rule[field] === '') return;
    const pattern = rule[field] as string;
    const seenKey = `${rule.ignoreCase === true ? 'i' : ''}:${pattern}`;
    const first = seen.get(seenKey);
    if (first === undefined) seen.set(seenKey, i);
    else {
      issues.push({
        path: [key, i, field],
        message: `duplicate pattern ${JSON.stringify(pattern)}: ${key}[${first}] has the same one, so this rule can never apply`,
      });
    }
  });
}

/** trustDomains keys are trust domains; the config's own trustDomain names local peers only. */
function checkTrustDomains(raw: Record<string, unknown>, issues: RawIssue[]): void {
  if (!isRecord(raw.trustDomains)) return;
  for (const key of Object.keys(raw.trustDomains)) {
    const problem = trustDomainProblem(key);
    if (problem)
      issues.push({
        path: ['trustDomains', key],
        message: `invalid trust domain ${JSON.stringify(key)}: ${problem}`,
      });
  }
}

/**
 * people[].spiffeIds: valid SPIFFE IDs, each in the config's own trust domain (a local peer's ID) or in one
 * of trustDomains (a remote peer's), and each naming one person only.
 */
function checkSpiffeIds(raw: Record<string, unknown>, issues: RawIssue[]): void {
  const own = typeof raw.trustDomain === 'string' ? raw.trustDomain : DEFAULT_TRUST_DOMAIN;
  const accepted = new Set([own, ...(isRecord(raw.trustDomains) ? Object.keys(raw.trustDomains) : [])]);
  const ids = new Map<string, number>();
  const people = asArray(raw.people);
  people.forEach((person, i) => {
    if (!isRecord(person)) return;
    asArray(person.spiffeIds).forEach((id, j) => {
      if (typeof id !== 'string' || id === '') return;
      const path: Segment[] = ['people', i, 'spiffeIds', j];
      const problem = spiffeIdProblem(id);
      if (problem) {
        issues.push({ path, message: `invalid SPIFFE ID ${JSON.stringify(id)}: ${problem}` });
        return;
      }
      const { trustDomain, path: idPath } = parseSpiffeId(id);
      if (idPath === '') {
        // An X.509-SVID's ID always has a path (X509-SVID spec), so no peer can ever have this one.
        issues.push({
          path,
          message: `SPIFFE ID ${JSON.stringify(id)} has no path: it names the trust domain, and no workload's SVID may carry it; give the workload's ID (spiffe://${trustDomain}/...)`,
        });
        return;
      }
      if (!accepted.has(trustDomain)) {
        issues.push({
          path,
          message: `trust domain ${JSON.stringify(trustDomain)} is neither trustDomain (${JSON.stringify(own)}) nor a key of trustDomains, so no peer can have this ID`,
        });
      }
      const first = ids.get(id);
      if (first === undefined) ids.set(id, i);
      else {
        const by =
          first === i
            ? 'listed twice for the same person'
            : `already used by ${personLabel(first, people[first])}`;
        issues.push({ path, message: `duplicate SPIFFE ID ${JSON.stringify(id)}: ${by}` });
      }
    });
  });
}

function checkGroupRoleKeys(raw: Record<string, unknown>, issues: RawIssue[]): void {
  if (!isRecord(raw.groupRoles)) return;
  for (const key of Object.keys(raw.groupRoles)) {
    const problem = groupRoleKeyProblem(key);
    if (problem) issues.push({ path: ['groupRoles', key], message: problem });
  }
}

// Fields in the order a reader meets them, so issues about one entry read top to bottom.
const FIELD_ORDER = [
  ...TOP_LEVEL_KEYS,
  'name',
  'role',
  'osUsername',
  'uids',
  'spiffeIds',
  ...USER_MAP_KEYS,
  'spiffeId',
  ...TRUST_DOMAIN_KEYS,
  ...PROXY_KEYS,
];

function compareSegments(a: Segment[], b: Segment[]): number {
  const rank = (s: Segment): number => {
    const i = FIELD_ORDER.indexOf(String(s));
    return i === -1 ? FIELD_ORDER.length : i;
  };
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    // Different keys of a record (groupRoles) or unknown fields: keep the order they were found in.
    return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** Every problem with `value` as an identity config, in document order; empty when it is valid. */
export function validateIdentityConfig(value: unknown): ConfigIssue[] {
  const raw: RawIssue[] = [];
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) raw.push(...zodIssues(parsed.error));
  if (isRecord(value)) {
    checkTrustDomain(value, raw);
    checkRoles(value, raw);
    checkDuplicatePeople(value, raw);
    checkMaps(value, raw, 'userMaps', 'systemUser');
    checkMaps(value, raw, 'spiffeMaps', 'spiffeId');
    checkPrintable(value, raw);
    checkDuplicateMaps(value, raw, 'userMaps', 'systemUser');
    checkDuplicateMaps(value, raw, 'spiffeMaps', 'spiffeId');
    checkGroupRoleKeys(value, raw);
    checkTrustDomains(value, raw);
    checkSpiffeIds(value, raw);
  }
  // Stable sort: issues for the same place keep the order they were found in.
  return raw
    .map((issue, i) => ({ issue, i }))
    .sort((x, y) => compareSegments(x.issue.path, y.issue.path) || x.i - y.i)
    .map(({ issue }) => ({
      path: formatIssuePath(issue.path),
      segments: issue.path,
      message: issue.message,
    }));
}

/**
 * Freeze the parsed config's own structure: every identity shares these person objects, and code serving
 * one peer must not be able to change another's role. Values of unknown person fields are the caller's
 * objects (zod passes them through), so they are left alone.
 */
function freezeConfig(config: IdentityConfig): IdentityConfig {
  for (const person of config.people) {
    if (person.uids) Object.freeze(person.uids);
    if (person.spiffeIds) Object.freeze(person.spiffeIds);
    Object.freeze(person);
  }
  Object.freeze(config.people);
  if (config.roles) Object.freeze(config.roles);
  Object.freeze(config.groupRoles);
  for (const rule of config.userMaps) Object.freeze(rule);
  Object.freeze(config.userMaps);
  for (const rule of config.spiffeMaps) Object.freeze(rule);
  Object.freeze(config.spiffeMaps);
  for (const domain of Object.values(config.trustDomains)) Object.freeze(domain);
  Object.freeze(config.trustDomains);
  if (config.proxy) {
    if (config.proxy.dropHeaders) Object.freeze(config.proxy.dropHeaders);
    if (config.proxy.forwardHeaders) Object.freeze(config.proxy.forwardHeaders);
    Object.freeze(config.proxy);
  }
  return Object.freeze(config);
}

declare const parsedBrand: unique symbol;

/**
 * An IdentityConfig that parseIdentityConfig validated, filled in and froze. createResolver and
 * createPeerServer use it as it is instead of validating it again.
 */
export type ParsedIdentityConfig = IdentityConfig & { readonly [parsedBrand]: true };

// Module-private, so the mark cannot be forged: a plain object that merely looks parsed is validated.
const parsedConfigs = new WeakSet<object>();

/** True for a config that parseIdentityConfig (or loadIdentityConfig) returned. */
export function isParsedIdentityConfig(value: unknown): value is ParsedIdentityConfig {
  return typeof value === 'object' && value !== null && parsedConfigs.has(value);
}

/**
 * Validate, fill in defaults and freeze. Throws IdentityConfigError listing every problem. A config this
 * function already returned comes back as it is.
 */
export function parseIdentityConfig(value: unknown, file?: string): ParsedIdentityConfig {
  if (isParsedIdentityConfig(value)) return value;
  const issues = validateIdentityConfig(value);
  if (issues.length > 0) throw new IdentityConfigError(issues, file);
  const { $schema: _schema, ...config } = configSchema.parse(value);
  const parsed = freezeConfig(config as IdentityConfig);
  parsedConfigs.add(parsed);
  return parsed as ParsedIdentityConfig;
}

/** Where JSON.parse failed, as line and column: its own message has no position on every Node version. */
function jsonErrorMessage(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const found = findJsonSyntaxError(text);
  const { line, column } = lineAndColumn(text, found?.offset ?? text.length);
  const what = found?.message ?? 'SyntaxError';
  return `invalid JSON at line ${line} column ${column} (${what}): ${message}`;
}

/** Larger than any real config: the cap keeps /dev/zero or a huge file from filling memory. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

function fileIssue(path: string, message: string, cause?: unknown): IdentityConfigError {
  return new IdentityConfigError([{ path: '(file)', segments: [], message }], path, { cause });
}

/**
 * Reads a config file: a regular file only (a FIFO would block forever, a device never end) and at most
 * MAX_CONFIG_BYTES. O_NONBLOCK makes opening a FIFO return at once, so fstat can refuse it.
 */
async function readConfigFile(path: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw fileIssue(path, `cannot read: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw fileIssue(path, 'not a regular file (a FIFO, device or directory is never read)');
    if (st.size > MAX_CONFIG_BYTES)
      throw fileIssue(path, `${st.size} bytes is more than the ${MAX_CONFIG_BYTES} bytes a config may have`);
    // The size can grow between fstat and read: read one byte past the cap to notice.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES)
        throw fileIssue(path, `more than the ${MAX_CONFIG_BYTES} bytes a config may have`);
    }
    return buf.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof IdentityConfigError) throw err;
    throw fileIssue(path, `cannot read: ${err instanceof Error ? err.message : String(err)}`, err);
  } finally {
    await handle.close();
  }
}

/** Read a JSON config file. Unreadable file, bad JSON and bad config all throw IdentityConfigError naming the file. */
export async function loadIdentityConfig(path: string): Promise<ParsedIdentityConfig> {
  // Editors on Windows save UTF-8 with a byte order mark; it is not part of the JSON.
  const text = (await readConfigFile(path)).replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new IdentityConfigError(
      [{ path: '(root)', segments: [], message: jsonErrorMessage(text, err) }],
      path,
      {
        cause: err,
      },
    );
  }
  const repeated = findRepeatedKeys(text);
  if (repeated.length > 0)
    throw new IdentityConfigError(
      repeated.map((r) => ({ path: formatIssuePath(r.segments), segments: r.segments, message: r.message })),
      path,
    );
  return parseIdentityConfig(value, path);
}
