// The resolution stages as pure functions of the config and what the directory answered. The resolver does
// the I/O; everything here is deterministic, so each stage is testable on its own.
import type { IdentityConfig, Person, SpiffeMapRule } from './config.js';
import { gidOfKey } from './group-keys.js';
import type { NamedGroup } from './selectors.js';
import { executableName, formatSpiffeId } from './spiffe.js';
import type { PeerCredentialsLike, ProcessLike, TrailStep } from './types.js';
import { type CompiledUserMap, compilePattern, expandTemplate, type UserMapRule } from './usermaps.js';

/** A directory answer, or why there is none (no entry is a successful answer of null). */
export type Lookup<T> =
  | { ok: true; value: T }
  | { ok: false; reason: string; timedOut: boolean; cause?: unknown };

export interface PeopleIndex {
  byUid: Map<number, Person>;
  byUsername: Map<string, Person>;
  byName: Map<string, Person>;
  bySpiffeId: Map<string, Person>;
  userMaps: CompiledUserMap[];
  spiffeMaps: CompiledSpiffeMap[];
  /** groupRoles by group name. */
  groupRoles: Map<string, string>;
  /** groupRoles keyed `gid:N`, by gid. */
  gidRoles: Map<number, string>;
}

export interface CompiledSpiffeMap {
  index: number;
  rule: SpiffeMapRule;
  regex: RegExp;
}

/** Lookup tables for a validated config (first entry wins, though validation forbids duplicates). */
export function indexConfig(config: IdentityConfig): PeopleIndex {
  const byUid = new Map<number, Person>();
  const byUsername = new Map<string, Person>();
  const byName = new Map<string, Person>();
  const bySpiffeId = new Map<string, Person>();
  for (const person of config.people) {
    for (const id of person.spiffeIds ?? []) if (!bySpiffeId.has(id)) bySpiffeId.set(id, person);
    for (const uid of person.uids ?? []) if (!byUid.has(uid)) byUid.set(uid, person);
    if (person.osUsername !== undefined && !byUsername.has(person.osUsername)) {
      byUsername.set(person.osUsername, person);
    }
    if (!byName.has(person.name)) byName.set(person.name, person);
  }
  const userMaps = config.userMaps.map((rule, index) => ({
    index,
    rule,
    regex: compilePattern(rule.systemUser, rule.ignoreCase === true),
  }));
  const spiffeMaps = config.spiffeMaps.map((rule, index) => ({
    index,
    rule,
    regex: compilePattern(rule.spiffeId, rule.ignoreCase === true),
  }));
  const groupRoles = new Map<string, string>();
  const gidRoles = new Map<number, string>();
  for (const [key, role] of Object.entries(config.groupRoles)) {
    const gid = gidOfKey(key);
    if (gid === null) groupRoles.set(key, role);
    else gidRoles.set(gid, role);
  }
  return { byUid, byUsername, byName, bySpiffeId, userMaps, spiffeMaps, groupRoles, gidRoles };
}

// ---- stage 1: uid -> username

export interface UsernameResult {
  username: string | null;
  step: TrailStep;
}

export function usernameStage(
  uid: number,
  lookup: Lookup<{ name: string; gid: number } | null>,
): UsernameResult {
  if (!lookup.ok) {
    return {
      username: null,
      step: {
        stage: 'username',
        result: null,
        detail: `user lookup for uid ${uid} failed (${lookup.reason}); continuing without a username`,
      },
    };
  }
  if (lookup.value === null) {
    return {
      username: null,
      step: { stage: 'username', result: null, detail: `uid ${uid} has no passwd entry` },
    };
  }
  const { name } = lookup.value;
  return {
    username: name,
    step: { stage: 'username', result: name, detail: `uid ${uid} is user ${JSON.stringify(name)}` },
  };
}

// ---- stage 2: uid/username -> person

export interface PersonResult {
  person: Person | null;
  step: TrailStep;
}

// What JSON.stringify escapes in a string: `"`, `\`, C0 controls and (unpaired) surrogates. A string
// without any is quoted as it is, the same text without the serialiser's cost; the rest go through it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const q = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * The first rule that names a person, in this order: uids, osUsername, spiffeIds (the peer's SPIFFE ID),
 * userMaps, spiffeMaps. Explicit entries come before patterns, and the kernel's facts before the ID derived
 * from them. A remote peer (`uid` null) has only its SPIFFE ID.
 */
export function personStage(
  index: PeopleIndex,
  uid: number | null,
  username: string | null,
  spiffeId: string,
): PersonResult {
  // This runs for every connection that no memo answers: no closures, and the maps only when there are any.
  const byUid = uid === null ? undefined : index.byUid.get(uid);
  if (byUid) return found(byUid, `uid ${uid} is listed in uids of ${q(byUid.name)}`);
  const byUsername = username === null ? undefined : index.byUsername.get(username);
  if (byUsername) return found(byUsername, `osUsername ${q(username ?? '')} is ${q(byUsername.name)}`);
  const byId = index.bySpiffeId.get(spiffeId);
  if (byId) return found(byId, `SPIFFE ID ${q(spiffeId)} is listed in spiffeIds of ${q(byId.name)}`);
  const notes: string[] = [];
  if (username !== null && index.userMaps.length > 0) {
    const person = viaMaps(index, index.userMaps, 'userMaps', username, notes);
    if (person) return found(person, notes.join('; '));
  }
  if (index.spiffeMaps.length > 0) {
    const person = viaMaps(index, index.spiffeMaps, 'spiffeMaps', spiffeId, notes);
    if (person) return found(person, notes.join('; '));
  }
  // Joined, not concatenated piece by piece: join makes one flat string, which an identity holds in fewer
  // bytes than a chain of concatenations.
  const listed = [`SPIFFE ID ${q(spiffeId)}`];
  if (username !== null) listed.unshift(`osUsername ${q(username)}`);
  if (uid !== null) listed.unshift(`uid ${uid}`);
  const rules =
    index.userMaps.length + index.spiffeMaps.length === 0
      ? 'there are no userMaps or spiffeMaps'
      : notes.length === 0
        ? 'no userMaps or spiffeMaps rule matched'
        : notes.join('; ');
  const noName =
    uid !== null && username === null ? ' (no username: osUsername and userMaps cannot match)' : '';
  return {
    person: null,
    step: {
      stage: 'person',
      result: null,
      detail: `no person lists ${listed.join(', ')}${noName}; ${rules}`,
    },
  };
}

function found(person: Person, detail: string): PersonResult {
  return { person, step: { stage: 'person', result: person.name, detail } };
}

/** The first of `rules` whose pattern matches `subject` and names a person; each match noted in `notes`. */
function viaMaps(
  index: PeopleIndex,
  rules: readonly { index: number; rule: UserMapRule | SpiffeMapRule; regex: RegExp }[],
  key: 'userMaps' | 'spiffeMaps',
  subject: string,
  notes: string[],
): Person | null {
  for (const { index: i, rule, regex } of rules) {
    const match = regex.exec(subject);
    if (!match) continue;
    const name = expandTemplate(rule.person, match);
    const person = index.byName.get(name);
    const pattern = 'systemUser' in rule ? rule.systemUser : rule.spiffeId;
    const head = `${key}[${i}] ${q(pattern)} matched ${q(subject)}`;
    if (person) {
      notes.push(`${head}, naming ${q(person.name)}`);
      return person;
    }
    notes.push(`${head} but no person is named ${q(name)}; trying the next rule`);
  }
  return null;
}

// ---- groups the role stage and the selectors see

export interface PeerGroups {
  /** Name of creds.gid, when known. */
  primaryGroup: string | null;
  /** Supplementary groups: the kernel's list when reported, else the directory's. */
  supplementary: NamedGroup[];
  /** Primary gid first, then supplementary, deduplicated: the order groupRoles is consulted in. */
  ordered: NamedGroup[];
  /** Where the group list came from, for the trail. */
  source: string;
  /**
   * How many gids at the end of `ordered` were not offered for naming because the list was longer than
   * the resolver's maxGroupNames: unnamed by the cap, not by the directory.
   */
  cut?: number;
}

/** Most items one message or trail detail lists; the rest are counted, never written out. */
export const MAX_LISTED = 16;

/**
 * The first MAX_LISTED of `items`, each written by `show`, joined with ", ", then "and N more" for the
 * rest: only the items written are formatted.
 */
export function listSome<T>(items: readonly T[], show: (item: T) => string): string {
  const listed = items.slice(0, MAX_LISTED).map(show).join(', ');
  const rest = items.length - MAX_LISTED;
  return rest > 0 ? `${listed} and ${rest} more` : listed;
}

/**
 * The peer's groups. When the kernel reported supplementary groups they are authoritative: a group the
 * process does not actually hold grants nothing, whatever /etc/group says, and one it holds through setgid
 * or newgrp counts though /etc/group does not list it. Otherwise (platforms without SO_PEERGROUPS-like
 * support) the directory's list for the user stands in. `names` only names gids; a gid it lacks is unnamed.
 */
export function peerGroups(
  creds: PeerCredentialsLike,
  supplementaryGids: readonly number[],
  names: ReadonlyMap<number, string>,
  source: string,
  cut = 0,
): PeerGroups {
  const primary: NamedGroup = { gid: creds.gid, name: names.get(creds.gid) ?? null };
  const supplementary: NamedGroup[] = [];
  // `ordered` is the primary gid, then the supplementary ones without it: one pass, one object per gid.
  const ordered: NamedGroup[] = [primary];
  const gids = unique(supplementaryGids);
  for (const gid of gids) {
    const group = gid === creds.gid ? { gid, name: primary.name } : { gid, name: names.get(gid) ?? null };
    supplementary.push(group);
    if (gid !== creds.gid) ordered.push(group);
  }
  return { primaryGroup: primary.name, supplementary, ordered, source, cut };
}

/** Shorter than this, a list is deduplicated by scanning what was kept: cheaper than a Set for a few gids. */
const SCAN_LIMIT = 16;

/** `values` without repeats, first occurrence kept, in order. */
export function unique(values: readonly number[]): number[] {
  if (values.length > SCAN_LIMIT) return [...new Set(values)];
  const out: number[] = [];
  for (const v of values) if (!out.includes(v)) out.push(v);
  return out;
}

// ---- stage 3: person/groups -> role

export interface RoleResult {
  role: string;
  fallback: boolean;
  step: TrailStep;
}

function describeGroups(groups: NamedGroup[]): string {
  if (groups.length === 0) return 'none';
  // A peer can hold 65,536 groups: the trail names a few and counts the rest.
  if (groups.length > MAX_LISTED) return listSome(groups, describeGroup);
  let out = describeGroup(groups[0] as NamedGroup);
  for (let i = 1; i < groups.length; i++) out += `, ${describeGroup(groups[i] as NamedGroup)}`;
  return out;
}

function describeGroup(g: NamedGroup): string {
  return g.name === null ? `gid ${g.gid}` : `${g.name} (gid ${g.gid})`;
}

export function roleStage(
  config: IdentityConfig,
  index: PeopleIndex,
  person: Person | null,
  groups: PeerGroups,
): RoleResult {
  if (person) {
    return {
      role: person.role,
      fallback: false,
      step: { stage: 'role', result: person.role, detail: `role of ${q(person.name)}` },
    };
  }
  for (const g of groups.ordered) {
    const byGid = index.gidRoles.get(g.gid);
    const role = byGid ?? (g.name === null ? undefined : index.groupRoles.get(g.name));
    if (role === undefined) continue;
    const which =
      byGid === undefined ? `group ${q(g.name ?? '')} (gid ${g.gid})` : `gid ${g.gid} (key "gid:${g.gid}")`;
    return {
      role,
      fallback: false,
      step: { stage: 'role', result: role, detail: `no person; ${which} has role ${q(role)} in groupRoles` },
    };
  }
  return {
    role: config.fallbackRole,
    fallback: true,
    step: {
      stage: 'role',
      result: config.fallbackRole,
      detail: `no person, and no group in groupRoles (groups: ${describeGroups(groups.ordered)}; ${groups.source}): fallbackRole`,
    },
  };
}

// ---- stage 4: SPIFFE ID

export interface SpiffeResult {
  spiffeId: string;
  step: TrailStep;
}

export function spiffeStage(trustDomain: string, uid: number, process?: ProcessLike): SpiffeResult {
  const name = process ? executableName(process.exePath) : '';
  if (name === '') {
    const spiffeId = formatSpiffeId(trustDomain, uid);
    const why = process ? `executable path ${q(process.exePath)} has no file name` : 'executable unknown';
    return { spiffeId, step: { stage: 'spiffe', result: spiffeId, detail: `${why}: no executable segment` } };
  }
  const spiffeId = formatSpiffeId(trustDomain, uid, name);
  return {
    spiffeId,
    step: { stage: 'spiffe', result: spiffeId, detail: `uid ${uid}, executable ${q(name)}` },
  };
}
