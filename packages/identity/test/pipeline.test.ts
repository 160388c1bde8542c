import { describe, expect, it } from 'vitest';
import { parseIdentityConfig } from '../src/index.js';
import {
  indexConfig,
  peerGroups,
  personStage,
  roleStage,
  spiffeStage,
  usernameStage,
} from '../src/pipeline.js';

const config = parseIdentityConfig({
  trustDomain: 'example.org',
  roles: ['admin', 'member', 'ops', 'public'],
  people: [
    { name: 'Alice', role: 'admin', osUsername: 'alice' },
    { name: 'Build bot', role: 'member', uids: [4300] },
    { name: 'Mallory', role: 'member', osUsername: 'builder' },
    { name: 'Service backup', role: 'member' },
    { name: 'Operator', role: 'ops' },
  ],
  groupRoles: { docker: 'member', wheel: 'ops' },
  userMaps: [
    { systemUser: '^svc-(.+)$', person: 'Service $1' },
    { systemUser: '(svc|ops)-.*', person: 'Operator' },
  ],
});
const index = indexConfig(config);

describe('stage 1: uid -> username', () => {
  it('names the user from the passwd entry', () => {
    expect(usernameStage(1000, { ok: true, value: { name: 'alice', gid: 1000 } })).toEqual({
      username: 'alice',
      step: { stage: 'username', result: 'alice', detail: 'uid 1000 is user "alice"' },
    });
  });

  it('gives null when there is no passwd entry', () => {
    const r = usernameStage(5, { ok: true, value: null });
    expect(r.username).toBeNull();
    expect(r.step).toEqual({ stage: 'username', result: null, detail: 'uid 5 has no passwd entry' });
  });

  it('gives null and says why when the lookup failed', () => {
    const r = usernameStage(5, { ok: false, reason: 'timed out after 50 ms', timedOut: true });
    expect(r.username).toBeNull();
    expect(r.step.detail).toBe(
      'user lookup for uid 5 failed (timed out after 50 ms); continuing without a username',
    );
  });
});

describe('stage 2: username/uid -> person', () => {
  it('matches uids first, even over another person whose osUsername is the username', () => {
    const r = personStage(index, 4300, 'builder', 'spiffe://example.org/uid-4300');
    expect(r.person?.name).toBe('Build bot');
    expect(r.step).toEqual({
      stage: 'person',
      result: 'Build bot',
      detail: 'uid 4300 is listed in uids of "Build bot"',
    });
  });

  it('then osUsername', () => {
    const r = personStage(index, 1000, 'alice', 'spiffe://example.org/uid-1000');
    expect(r.person).toEqual({ name: 'Alice', role: 'admin', osUsername: 'alice' });
    expect(r.step.detail).toBe('osUsername "alice" is "Alice"');
  });

  it('then the first matching userMaps rule, substituting capture groups', () => {
    const r = personStage(index, 1002, 'svc-backup', 'spiffe://example.org/uid-1002');
    expect(r.person?.name).toBe('Service backup');
    expect(r.step.detail).toBe('userMaps[0] "^svc-(.+)$" matched "svc-backup", naming "Service backup"');
  });

  it('falls through a rule whose substituted name is no person, noting it in the trail', () => {
    const r = personStage(index, 1003, 'svc-unknown', 'spiffe://example.org/uid-1003');
    expect(r.person?.name).toBe('Operator');
    expect(r.step.detail).toBe(
      'userMaps[0] "^svc-(.+)$" matched "svc-unknown" but no person is named "Service unknown"; trying the next rule; ' +
        'userMaps[1] "(svc|ops)-.*" matched "svc-unknown", naming "Operator"',
    );
  });

  it('finds no person when nothing matches, and says what was tried', () => {
    const r = personStage(index, 1001, 'bob', 'spiffe://example.org/uid-1001');
    expect(r.person).toBeNull();
    expect(r.step).toEqual({
      stage: 'person',
      result: null,
      detail:
        'no person lists uid 1001, osUsername "bob", SPIFFE ID "spiffe://example.org/uid-1001"; no userMaps or spiffeMaps rule matched',
    });
  });

  it('without a username only uids can match', () => {
    expect(personStage(index, 4300, null, 'spiffe://example.org/uid-4300').person?.name).toBe('Build bot');
    const r = personStage(index, 1000, null, 'spiffe://example.org/uid-1000');
    expect(r.person).toBeNull();
    expect(r.step.detail).toContain('no username: osUsername and userMaps cannot match');
  });

  it('says when there are no userMaps at all', () => {
    const bare = indexConfig(parseIdentityConfig({ people: [] }));
    expect(personStage(bare, 1, 'x', 'spiffe://example.org/uid-1').step.detail).toContain(
      'there are no userMaps',
    );
  });

  it('a rule matches the whole name only (compiled as ^(?:pattern)$, like a pg_ident.conf name)', () => {
    const i = indexConfig(
      parseIdentityConfig({
        people: [{ name: 'Ops', role: 'r' }],
        userMaps: [{ systemUser: 'ops', person: 'Ops' }],
      }),
    );
    expect(personStage(i, 1, 'devops-1', 'spiffe://example.org/uid-1').person).toBeNull();
    expect(personStage(i, 1, 'ops', 'spiffe://example.org/uid-1').person?.name).toBe('Ops');
  });
});

describe('peer groups', () => {
  const names = new Map([
    [1001, 'bob'],
    [998, 'docker'],
    [999, 'wheel'],
  ]);

  it('the given membership in order, primary gid first in ordered; names only name', () => {
    const g = peerGroups({ pid: 1, uid: 1001, gid: 1001, groups: [999, 5000] }, [999, 5000], names, 'kernel');
    expect(g.primaryGroup).toBe('bob');
    expect(g.supplementary).toEqual([
      { gid: 999, name: 'wheel' },
      { gid: 5000, name: null },
    ]);
    expect(g.ordered.map((x) => x.gid)).toEqual([1001, 999, 5000]);
    expect(g.source).toBe('kernel');
  });

  it('without names every gid is unnamed, never named after its number', () => {
    const g = peerGroups({ pid: 1, uid: 1, gid: 1, groups: [2] }, [2], new Map(), 'kernel');
    expect(g.ordered).toEqual([
      { gid: 1, name: null },
      { gid: 2, name: null },
    ]);
  });
});

describe('stage 3: person/groups -> role', () => {
  const groups = (names: [number, string | null][]) => ({
    primaryGroup: names[0]?.[1] ?? null,
    supplementary: [],
    ordered: names.map(([gid, name]) => ({ gid, name })),
    source: 'kernel-reported groups',
  });

  it("takes the person's role", () => {
    const alice = config.people[0]!;
    expect(roleStage(config, index, alice, groups([[998, 'docker']]))).toEqual({
      role: 'admin',
      fallback: false,
      step: { stage: 'role', result: 'admin', detail: 'role of "Alice"' },
    });
  });

  it('else the role of the first group listed in groupRoles, in primary-then-supplementary order', () => {
    const r = roleStage(
      config,
      index,
      null,
      groups([
        [1001, 'bob'],
        [999, 'wheel'],
        [998, 'docker'],
      ]),
    );
    expect(r).toEqual({
      role: 'ops',
      fallback: false,
      step: {
        stage: 'role',
        result: 'ops',
        detail: 'no person; group "wheel" (gid 999) has role "ops" in groupRoles',
      },
    });
  });

  it('else fallbackRole, with fallback true', () => {
    const r = roleStage(
      config,
      index,
      null,
      groups([
        [1001, 'bob'],
        [5000, null],
      ]),
    );
    expect(r.role).toBe('public');
    expect(r.fallback).toBe(true);
    expect(r.step.detail).toBe(
      'no person, and no group in groupRoles (groups: bob (gid 1001), gid 5000; kernel-reported groups): fallbackRole',
    );
  });

  it('a group named like an Object.prototype member is not a role', () => {
    expect(
      roleStage(
        config,
        index,
        null,
        groups([
          [1, 'constructor'],
          [2, '__proto__'],
        ]),
      ).fallback,
    ).toBe(true);
  });
});

describe('stage 4: SPIFFE ID', () => {
  it('uses the executable file name', () => {
    expect(spiffeStage('example.org', 1000, { pid: 1, exePath: '/usr/local/bin/my tool' })).toEqual({
      spiffeId: 'spiffe://example.org/uid-1000/my_20tool',
      step: {
        stage: 'spiffe',
        result: 'spiffe://example.org/uid-1000/my_20tool',
        detail: 'uid 1000, executable "my tool"',
      },
    });
  });

  it('has no executable segment when the process is unknown or its path has no file name', () => {
    expect(spiffeStage('example.org', 1000).spiffeId).toBe('spiffe://example.org/uid-1000');
    expect(spiffeStage('example.org', 1000).step.detail).toBe('executable unknown: no executable segment');
    expect(spiffeStage('example.org', 7, { pid: 1, exePath: '' }).spiffeId).toBe(
      'spiffe://example.org/uid-7',
    );
  });
});
