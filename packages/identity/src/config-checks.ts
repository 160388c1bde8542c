// The cross-field checks of the identity config (roles, duplicates, userMaps, SPIFFE IDs, printable names),
// run on whatever parts are well-formed beside zod's own issues, so a single pass reports every problem.
import { z } from 'zod';
import {
  configSchema,
  DEFAULT_FALLBACK_ROLE,
  DEFAULT_TRUST_DOMAIN,
  PROXY_KEYS,
  SPIFFE_MAP_KEYS,
  TOP_LEVEL_KEYS,
  TRUST_DOMAIN_KEYS,
  USER_MAP_KEYS,
} from './config-schema.js';
import type { ConfigIssue } from './errors.js';
import { groupRoleKeyProblem } from './group-keys.js';
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
} from './usermaps.js';

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

/** The person who listed `value` before person `i`, or undefined when `i` is the first (then recorded). */
function earlierOwner<T>(owners: Map<T, number>, value: T, i: number): number | undefined {
  const first = owners.get(value);
  if (first === undefined) owners.set(value, i);
  return first;
}

/**
 * Who already listed `value` (a uid, a SPIFFE ID), as the tail of a "duplicate" message, or null when
 * person `i` is the first.
 */
function claimedBefore<T>(owners: Map<T, number>, value: T, i: number, people: unknown[]): string | null {
  const first = earlierOwner(owners, value, i);
  if (first === undefined) return null;
  return first === i
    ? 'listed twice for the same person'
    : `already used by ${personLabel(first, people[first])}`;
}

function checkDuplicatePeople(raw: Record<string, unknown>, issues: RawIssue[]): void {
  const names = new Map<string, number>();
  const usernames = new Map<string, number>();
  const uids = new Map<number, number>();
  const people = asArray(raw.people);
  people.forEach((person, i) => {
    if (!isRecord(person)) return;
    if (typeof person.name === 'string' && person.name !== '') {
      const first = earlierOwner(names, person.name, i);
      if (first !== undefined) {
        issues.push({
          path: ['people', i, 'name'],
          message: `duplicate name ${JSON.stringify(person.name)}: already used by people[${first}] (userMaps name people, so names must be unique)`,
        });
      }
    }
    if (typeof person.osUsername === 'string' && person.osUsername !== '') {
      const first = earlierOwner(usernames, person.osUsername, i);
      if (first !== undefined) {
        issues.push({
          path: ['people', i, 'osUsername'],
          message: `duplicate osUsername ${JSON.stringify(person.osUsername)}: already used by ${personLabel(first, people[first])}`,
        });
      }
    }
    asArray(person.uids).forEach((u, j) => {
      if (typeof u !== 'number' || !Number.isInteger(u)) return;
      const by = claimedBefore(uids, u, i, people);
      if (by) issues.push({ path: ['people', i, 'uids', j], message: `duplicate uid ${u}: ${by}` });
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
      const by = claimedBefore(ids, id, i, people);
      if (by) issues.push({ path, message: `duplicate SPIFFE ID ${JSON.stringify(id)}: ${by}` });
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
