// The resolution stages as pure functions of the config and what the directory answered. The resolver does
// the I/O; everything here is deterministic, so each stage is testable on its own.
import type { IdentityConfig, Person } from './config.js';
import { gidOfKey } from './group-keys.js';
import type { NamedGroup } from './selectors.js';
import { executableName, formatSpiffeId } from './spiffe.js';
import type { PeerCredentialsLike, ProcessLike, TrailStep } from './types.js';
import { type CompiledUserMap, compilePattern, expandTemplate } from './usermaps.js';

/** A directory answer, or why there is none (no entry is a successful answer of null). */
export type Lookup<T> =
  | { ok: true; value: T }
  | { ok: false; reason: string; timedOut: boolean; cause?: unknown };

export interface PeopleIndex {
  byUid: Map<number, Person>;
  byUsername: Map<string, Person>;
  byName: Map<string, Person>;
  userMaps: CompiledUserMap[];
  /** groupRoles by group name. */
  groupRoles: Map<string, string>;
  /** groupRoles keyed `gid:N`, by gid. */
  gidRoles: Map<number, string>;
}

/** Lookup tables for a validated config (first entry wins, though validation forbids duplicates). */
export function indexConfig(config: IdentityConfig): PeopleIndex {
  const byUid = new Map<number, Person>();
  const byUsername = new Map<string, Person>();
  const byName = new Map<string, Person>();
  for (const person of config.people) {
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
  const groupRoles = new Map<string, string>();
  const gidRoles = new Map<number, string>();
  for (const [key, role] of Object.entries(config.groupRoles)) {
    const gid = gidOfKey(key);
    if (gid === null) groupRoles.set(key, role);
    else gidRoles.set(gid, role);
  }
  return { byUid, byUsername, byName, userMaps, groupRoles, gidRoles };
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

const q = (s: string): string => JSON.stringify(s);

export function personStage(index: PeopleIndex, uid: number, username: string | null): PersonResult {
  const byUid = index.byUid.get(uid);
  if (byUid) {
    return {
      person: byUid,
      step: {
        stage: 'person',
        result: byUid.name,
        detail: `uid ${uid} is listed in uids of ${q(byUid.name)}`,
      },
    };
  }
  if (username === null) {
    return {
      person: null,
      step: {
        stage: 'person',
        result: null,
        detail: `no person lists uid ${uid}, and without a username osUsername and userMaps cannot match`,
      },
    };
  }
  const byUsername = index.byUsername.get(username);
  if (byUsername) {
    return {
      person: byUsername,
      step: {
        stage: 'person',
        result: byUsername.name,
        detail: `osUsername ${q(username)} is ${q(byUsername.name)}`,
      },
    };
  }
  const notes: string[] = [];
  for (const { index: i, rule, regex } of index.userMaps) {
    const match = regex.exec(username);
    if (!match) continue;
    const name = expandTemplate(rule.person, match);
    const person = index.byName.get(name);
    if (person) {
      notes.push(`userMaps[${i}] ${q(rule.systemUser)} matched ${q(username)}, naming ${q(person.name)}`);
      return { person, step: { stage: 'person', result: person.name, detail: notes.join('; ') } };
    }
    notes.push(
      `userMaps[${i}] ${q(rule.systemUser)} matched ${q(username)} but no person is named ${q(name)}; trying the next rule`,
    );
  }
  const tail =
    index.userMaps.length === 0
      ? 'there are no userMaps'
      : notes.length === 0
        ? 'no userMaps rule matched'
        : notes.join('; ');
  return {
    person: null,
    step: {
      stage: 'person',
      result: null,
      detail: `no person lists uid ${uid} or osUsername ${q(username)}; ${tail}`,
    },
  };
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
): PeerGroups {
  const named = (gid: number): NamedGroup => ({ gid, name: names.get(gid) ?? null });
  const supplementary = unique([...supplementaryGids]).map(named);
  const ordered = unique([creds.gid, ...supplementaryGids]).map(named);
  return { primaryGroup: names.get(creds.gid) ?? null, supplementary, ordered, source };
}

function unique(values: number[]): number[] {
  return [...new Set(values)];
}

// ---- stage 3: person/groups -> role

export interface RoleResult {
  role: string;
  fallback: boolean;
  step: TrailStep;
}

function describeGroups(groups: NamedGroup[]): string {
  if (groups.length === 0) return 'none';
  return groups.map((g) => (g.name === null ? `gid ${g.gid}` : `${g.name} (gid ${g.gid})`)).join(', ');
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
