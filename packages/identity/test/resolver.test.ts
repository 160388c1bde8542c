import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordingLogger } from '../../../test-fixtures/logger.js';
import {
  createResolver,
  IdentityConfigError,
  IdentityLookupError,
  InvalidUidError,
  isResolver,
  loadIdentityConfig,
  lookupFailedDuring,
  type UserDirectory,
  unnamedGroupIn,
  withPid,
} from '../src/index.js';
import { creds, hangingDirectory, hostDirectory, staticDirectory } from './directory.js';
import { spiffeIdProblem } from './spiffe-validator.js';

const fixtures = join(import.meta.dirname, '../../../test-fixtures/configs');

const config = {
  trustDomain: 'example.org',
  roles: ['admin', 'member', 'ops', 'public'],
  people: [
    { name: 'Alice', role: 'admin', osUsername: 'alice', telegram: '@alice' },
    { name: 'Build bot', role: 'member', uids: [4300] },
    { name: 'Service backup', role: 'member' },
  ],
  groupRoles: { docker: 'member', wheel: 'ops' },
  userMaps: [{ systemUser: '^svc-(.+)$', person: 'Service $1' }],
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('resolve', () => {
  it('resolves a person by osUsername, with selectors and a four-step trail', async () => {
    const resolver = createResolver(config, hostDirectory(true), { logger: recordingLogger() });
    const identity = await resolver.resolve(creds(1000, 1000, [1000, 998]), {
      pid: 4242,
      exePath: '/usr/bin/node',
      sha256: 'ab'.repeat(32),
    });
    expect(identity).toEqual({
      auth: 'unix',
      uid: 1000,
      gid: 1000,
      pid: 4242,
      groups: [1000, 998],
      username: 'alice',
      person: { name: 'Alice', role: 'admin', osUsername: 'alice', telegram: '@alice' },
      role: 'admin',
      fallback: false,
      spiffeId: 'spiffe://example.org/uid-1000/node',
      selectors: [
        'unix:uid:1000',
        'unix:user:alice',
        'unix:gid:1000',
        'unix:group:alice',
        'unix:supplementary_gid:1000',
        'unix:supplementary_group:alice',
        'unix:supplementary_gid:998',
        'unix:supplementary_group:docker',
        'unix:path:/usr/bin/node',
        `unix:sha256:${'ab'.repeat(32)}`,
      ],
      trail: [
        { stage: 'username', result: 'alice', detail: 'uid 1000 is user "alice"' },
        { stage: 'person', result: 'Alice', detail: 'osUsername "alice" is "Alice"' },
        { stage: 'role', result: 'admin', detail: 'role of "Alice"' },
        {
          stage: 'spiffe',
          result: 'spiffe://example.org/uid-1000/node',
          detail: 'uid 1000, executable "node"',
        },
      ],
    });
  });

  it('resolves by uids, by userMaps and by group', async () => {
    const resolver = createResolver(config, hostDirectory());
    expect((await resolver.resolve(creds(4300))).person?.name).toBe('Build bot');
    expect((await resolver.resolve(creds(1002))).person?.name).toBe('Service backup');
    const bob = await resolver.resolve(creds(1001, 1001, null));
    expect(bob).toMatchObject({ username: 'bob', person: null, role: 'member', fallback: false });
    expect(bob.trail[2]!.detail).toContain('group "docker" (gid 998)');
  });

  it('uses the groups the kernel reports, not the ones /etc/group lists', async () => {
    const resolver = createResolver(config, hostDirectory(true));
    // bob is in docker and wheel per the directory, but this process dropped both.
    const bob = await resolver.resolve(creds(1001, 1001, [1001]));
    expect(bob).toMatchObject({ role: 'public', fallback: true, groups: [1001] });
    expect(bob.selectors).not.toContain('unix:supplementary_group:docker');
    // ...and a process holding only wheel gets wheel's role.
    expect((await resolver.resolve(creds(1001, 1001, [999]))).role).toBe('ops');
    // A directory without groupsByGid names the user's own groups through groupsOf; membership stays the kernel's.
    const listedOnly = createResolver(config, hostDirectory());
    expect((await listedOnly.resolve(creds(1001, 1001, [999]))).role).toBe('ops');
    expect((await listedOnly.resolve(creds(1001, 1001, [1001]))).role).toBe('public');
  });

  it('names a held group groupsOf does not list only through the optional groupsByGid', async () => {
    // alice holds docker (998) via setgid, but /etc/group does not list her in it.
    const without = await createResolver(config, hostDirectory()).resolve(creds(1000, 1000, [1000, 998]));
    expect(without.selectors).toContain('unix:supplementary_gid:998');
    expect(without.selectors).not.toContain('unix:supplementary_group:docker');
    const directory = hostDirectory(true);
    const withIt = await createResolver(config, directory).resolve(creds(1000, 1000, [1000, 998]));
    expect(withIt.selectors).toContain('unix:supplementary_group:docker');
    expect(directory.calls).toEqual(['userByUid(1000)', 'groupsByGid(1000,998)']);
  });

  it('a directory without groupsByGid: the kernel gids stay unnamed, and no other method is asked', async () => {
    const { groupsByGid: _unused, ...base } = hostDirectory();
    const asked: number[] = [];
    // groupByGid was a pre-release name for one gid at a time: it is not part of UserDirectory.
    const directory = {
      ...base,
      groupByGid: async (gid: number) => {
        asked.push(gid);
        return 'named-anyway';
      },
    };
    const identity = await createResolver(config, directory).resolve(creds(1000, 1000, [1000, 998]));
    expect(identity.selectors).toContain('unix:supplementary_gid:998');
    expect(identity.selectors.join(' ')).not.toContain('named-anyway');
    expect(asked).toEqual([]);
  });

  it('a peer without a passwd entry still gets a group role when groupsByGid names its groups', async () => {
    const identity = await createResolver(config, hostDirectory(true)).resolve(creds(77777, 77777, [999]));
    expect(identity).toMatchObject({ username: null, role: 'ops', fallback: false });
    expect(identity.selectors).toEqual([
      'unix:uid:77777',
      'unix:gid:77777',
      'unix:supplementary_gid:999',
      'unix:supplementary_group:wheel',
    ]);
  });

  it('asks the directory for the groups of the kernel-reported gid', async () => {
    const directory = hostDirectory();
    await createResolver(config, directory).resolve(creds(1001, 998, null));
    expect(directory.calls).toEqual(['userByUid(1001)', 'groupsOf(bob, 998)']);
  });

  it('a peer with no passwd entry gets the fallback role', async () => {
    const directory = hostDirectory();
    const identity = await createResolver(config, directory).resolve(creds(77777, 77777, [77777]));
    expect(identity).toMatchObject({
      username: null,
      person: null,
      role: 'public',
      fallback: true,
      spiffeId: 'spiffe://example.org/uid-77777',
      selectors: ['unix:uid:77777', 'unix:gid:77777', 'unix:supplementary_gid:77777'],
    });
    expect(identity.trail[0]).toEqual({
      stage: 'username',
      result: null,
      detail: 'uid 77777 has no passwd entry',
    });
    expect(directory.calls).toEqual(['userByUid(77777)']);
  });

  it('works with a config written without any osUsername', async () => {
    const legacy = await loadIdentityConfig(join(fixtures, 'legacy-no-osusername.json'));
    const resolver = createResolver(legacy, hostDirectory());
    expect(await resolver.resolve(creds(4300))).toMatchObject({
      person: { name: 'Build bot' },
      role: 'member',
    });
    expect(await resolver.resolve(creds(1000))).toMatchObject({
      person: null,
      role: 'public',
      fallback: true,
    });
  });

  it('takes pid from the process when the credentials have none', async () => {
    const identity = await createResolver(config, hostDirectory()).resolve(creds(1000, 1000, null, null), {
      pid: 9,
      exePath: '/bin/sh',
    });
    expect(identity.pid).toBe(9);
    expect(identity.selectors.some((sel) => sel.startsWith('unix:pid:'))).toBe(false);
  });

  it('rejects credentials no kernel produces', async () => {
    const resolver = createResolver(config, hostDirectory());
    await expect(resolver.resolve(creds(-1))).rejects.toBeInstanceOf(InvalidUidError);
    await expect(resolver.resolve(creds(2 ** 32))).rejects.toBeInstanceOf(InvalidUidError);
  });
});

// Today's behaviour, kept behind lookupFailure "fallback"; the default refuses (fail-closed.test.ts).
const fallbackConfig = { ...config, lookupFailure: 'fallback' };

describe('a failing directory with lookupFailure "fallback"', () => {
  it('a rejecting userByUid: logs, falls through to the fallback role, never rejects', async () => {
    const logger = recordingLogger();
    const directory: UserDirectory = {
      userByUid: async () => {
        throw Object.assign(new Error('NSS is down'), { code: 'EIO' });
      },
      groupsOf: async () => [],
    };
    const identity = await createResolver(fallbackConfig, directory, { logger }).resolve(creds(1000));
    expect(identity).toMatchObject({ username: null, role: 'public', fallback: true });
    expect(identity.trail[0]!.detail).toBe(
      'user lookup for uid 1000 failed (EIO: NSS is down); continuing without a username',
    );
    expect(logger.records).toHaveLength(1);
    expect(logger.records[0]!.obj).toMatchObject({
      uid: 1000,
      lookup: 'userByUid',
      reason: 'EIO: NSS is down',
    });
    expect(logger.records[0]!.msg).toContain('uid 1000');
  });

  it('a userByUid that throws synchronously is handled the same way', async () => {
    const directory = {
      userByUid: () => {
        throw new Error('sync');
      },
      groupsOf: async () => [],
    } as unknown as UserDirectory;
    const identity = await createResolver(fallbackConfig, directory, { logger: recordingLogger() }).resolve(
      creds(1000),
    );
    expect(identity.fallback).toBe(true);
  });

  it('a directory that never answers: resolve completes after the timeout with the fallback role', async () => {
    const logger = recordingLogger();
    const resolver = createResolver(fallbackConfig, hangingDirectory, { timeoutMs: 50, logger });
    const outcome = await Promise.race([
      resolver.resolve(creds(1000)),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 50 + 2000)),
    ]);
    expect(outcome).not.toBe('hung');
    expect(outcome).toMatchObject({ username: null, role: 'public', fallback: true });
    expect(logger.records[0]!.obj).toMatchObject({
      lookup: 'userByUid',
      reason: 'timed out after 50 ms',
      timeoutMs: 50,
    });
  });

  it('uids still match when the directory never answers', async () => {
    const identity = await createResolver(fallbackConfig, hangingDirectory, {
      timeoutMs: 50,
      logger: recordingLogger(),
    }).resolve(creds(4300));
    expect(identity).toMatchObject({ person: { name: 'Build bot' }, role: 'member', fallback: false });
  });

  it('a groupsOf that rejects or hangs keeps the username and person, loses group names', async () => {
    for (const groupsOf of [
      () => Promise.reject(new Error('no groups')),
      () => new Promise<never>(() => {}),
    ]) {
      const logger = recordingLogger();
      const directory: UserDirectory = { userByUid: async () => ({ name: 'bob', gid: 1001 }), groupsOf };
      const identity = await createResolver(fallbackConfig, directory, { timeoutMs: 50, logger }).resolve(
        creds(1001, 1001, null),
      );
      expect(identity).toMatchObject({ username: 'bob', role: 'public', fallback: true });
      expect(identity.selectors).toEqual(['unix:uid:1001', 'unix:user:bob', 'unix:gid:1001']);
      expect(logger.records[0]!.obj).toMatchObject({ lookup: 'groupsOf', username: 'bob' });
    }
  });

  it('a groupsByGid that hangs leaves the gids unnamed after the timeout', async () => {
    const logger = recordingLogger();
    const directory: UserDirectory = {
      userByUid: async () => null,
      groupsOf: async () => [],
      groupsByGid: () => new Promise(() => {}),
    };
    const identity = await createResolver(fallbackConfig, directory, { timeoutMs: 50, logger }).resolve(
      creds(5, 5, [998]),
    );
    expect(identity).toMatchObject({ role: 'public', fallback: true });
    expect(logger.records.map((e) => e.obj)).toMatchObject([{ lookup: 'groupsByGid', gids: [5, 998] }]);
  });

  it('malformed directory answers count as failures, not crashes', async () => {
    const directory = {
      userByUid: async () => ({ nom: 'x' }),
      groupsOf: async () => 'nope',
    } as unknown as UserDirectory;
    const logger = recordingLogger();
    const identity = await createResolver(fallbackConfig, directory, { logger }).resolve(creds(1000));
    expect(identity.username).toBeNull();
    expect(logger.records[0]!.obj).toMatchObject({ reason: 'directory returned a malformed user entry' });
  });

  it('without a logger, emits one process warning per resolver', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const directory: UserDirectory = {
      userByUid: () => Promise.reject(new Error('down')),
      groupsOf: async () => [],
    };
    const resolver = createResolver(fallbackConfig, directory);
    await resolver.resolve(creds(1000));
    await resolver.resolve(creds(1001));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('uid 1000');
  });
});

describe('createResolver', () => {
  it('validates the config', () => {
    expect(() => createResolver({ people: [{ name: 'A' }] }, hostDirectory())).toThrow(IdentityConfigError);
  });

  it('exposes the validated config and the directory', () => {
    const directory = hostDirectory();
    const resolver = createResolver({ people: [] }, directory);
    expect(resolver.config.trustDomain).toBe('peerauth.local');
    expect(resolver.directory).toBe(directory);
  });

  it("freezes its copy of the config, leaving the caller's object alone", async () => {
    const mine = { people: [{ name: 'A', role: 'r', uids: [1], extra: { nested: true } }] };
    const resolver = createResolver(mine, hostDirectory());
    const identity = await resolver.resolve(creds(1));
    expect(Object.isFrozen(identity.person)).toBe(true);
    expect(Object.isFrozen(resolver.config.people)).toBe(true);
    expect(() => {
      (identity.person as { role: string }).role = 'admin';
    }).toThrow(TypeError);
    expect(Object.isFrozen(mine.people[0])).toBe(false);
    expect(Object.isFrozen(mine.people[0]!.extra)).toBe(false);
    // The identity itself stays a plain object: servers append trail steps (e.g. a failed attestation).
    identity.trail.push({ stage: 'spiffe', result: null, detail: 'appended' });
    expect(identity.trail).toHaveLength(5);
  });

  it('rejects a non-positive timeout', () => {
    expect(() => createResolver({ people: [] }, hostDirectory(), { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => createResolver({ people: [] }, hostDirectory(), { timeoutMs: Number.NaN })).toThrow(
      RangeError,
    );
  });

  it('withDirectory keeps config and options, swaps the directory', async () => {
    const logger = recordingLogger();
    const first = createResolver(fallbackConfig, hangingDirectory, { timeoutMs: 50, logger });
    const other = staticDirectory({ users: { 1000: { name: 'alice', gid: 1000 } } });
    const second = first.withDirectory(other);
    expect(second.directory).toBe(other);
    expect(second.config).toBe(first.config);
    expect((await second.resolve(creds(1000))).role).toBe('admin');
    await second.withDirectory(hangingDirectory).resolve(creds(1000));
    expect(logger.records[0]!.obj).toMatchObject({ timeoutMs: 50 });
  });

  it('isResolver recognises resolvers only', () => {
    expect(isResolver(createResolver({ people: [] }, hostDirectory()))).toBe(true);
    expect(isResolver(createResolver({ people: [] }, hostDirectory()).withDirectory(hostDirectory()))).toBe(
      true,
    );
    for (const v of [null, undefined, {}, { resolve() {}, config: {}, directory: {} }, 'resolver']) {
      expect(isResolver(v)).toBe(false);
    }
  });
});

describe('resolve properties', () => {
  it('any uid and executable name: an identity with a valid SPIFFE ID and distinct IDs for distinct names', async () => {
    const resolver = createResolver(config, hostDirectory());
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        async (uid, a, b) => {
          const ia = await resolver.resolve(creds(uid), {
            pid: 1,
            exePath: `/opt/bin/${a.replaceAll('/', '')}`,
          });
          const ib = await resolver.resolve(creds(uid), {
            pid: 1,
            exePath: `/opt/bin/${b.replaceAll('/', '')}`,
          });
          expect(ia.uid).toBe(uid);
          expect(typeof ia.role).toBe('string');
          expect(ia.trail.map((s) => s.stage)).toEqual(['username', 'person', 'role', 'spiffe']);
          expect(spiffeIdProblem(ia.spiffeId)).toBeNull();
          expect(spiffeIdProblem(ib.spiffeId)).toBeNull();
          if (a.replaceAll('/', '') !== b.replaceAll('/', '')) expect(ia.spiffeId).not.toBe(ib.spiffeId);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('a directory that answers synchronously (a cache hit)', () => {
  it('uses the plain values without arming a timeout timer', async () => {
    const directory: UserDirectory = {
      userByUid: (uid) => (uid === 1000 ? { name: 'alice', gid: 1000 } : null),
      groupsOf: () => [],
      groupsByGid: (gids) => gids.map((gid) => ({ gid, name: gid === 999 ? 'docker' : null })),
    };
    const resolver = createResolver(config, directory, { timeoutMs: 50 });
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const identity = await resolver.resolve(creds(1000, 1000, [999]));
    expect(timers).not.toHaveBeenCalled();
    expect(identity.username).toBe('alice');
    expect(identity.person?.name).toBe('Alice');
    expect(identity.selectors).toContain('unix:supplementary_group:docker');
  });

  it('still races a pending answer against the timeout', async () => {
    const directory: UserDirectory = {
      userByUid: () => new Promise(() => {}),
      groupsOf: () => [],
    };
    const warnings: unknown[] = [];
    const resolver = createResolver(fallbackConfig, directory, {
      timeoutMs: 30,
      logger: { warn: (o) => warnings.push(o) },
    });
    const identity = await resolver.resolve(creds(1000, 1000, []));
    expect(identity.username).toBeNull();
    expect(identity.fallback).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(identity.trail[0]!.detail).toContain('timed out after 30 ms');
  });

  it('a synchronous throw counts as a failed lookup', async () => {
    const directory: UserDirectory = {
      userByUid: () => {
        throw new Error('nss exploded');
      },
      groupsOf: () => [],
    };
    const resolver = createResolver(fallbackConfig, directory, { logger: { warn() {} } });
    const identity = await resolver.resolve(creds(1000, 1000, []));
    expect(identity.username).toBeNull();
    expect(identity.trail[0]!.detail).toContain('nss exploded');
  });
});

describe('resolveNow', () => {
  // What a warm cache looks like to the resolver: every answer a plain value.
  const plain: UserDirectory = {
    userByUid: (uid) => (uid === 1000 ? { name: 'alice', gid: 1000 } : null),
    groupsOf: (_name, gid) => [
      { gid, name: 'alice' },
      { gid: 998, name: 'docker' },
    ],
    groupsByGid: (gids) =>
      gids.map((gid) => ({ gid, name: gid === 998 ? 'docker' : gid === 1000 ? 'alice' : null })),
  };

  it('is the identity itself, no promise, when every directory answer is a plain value: the same as resolve()', async () => {
    const resolver = createResolver(config, plain, { logger: recordingLogger() });
    for (const c of [creds(1000, 1000, [1000, 998]), creds(1000), creds(4300), creds(5000, 5000, [998])]) {
      const now = resolver.resolveNow(c);
      expect(now).not.toBeInstanceOf(Promise);
      expect(now).toEqual(await resolver.resolve(c));
    }
    const { groupsByGid: _, ...withoutNamer } = plain;
    const listed = createResolver(config, withoutNamer, { logger: recordingLogger() });
    expect(listed.resolveNow(creds(1000, 1000, [1000, 998]))).toMatchObject({ role: 'admin' });
  });

  it('is a promise when an answer is pending, with the same identity', async () => {
    const resolver = createResolver(config, hostDirectory(true), { logger: recordingLogger() });
    const now = resolver.resolveNow(creds(1000, 1000, [1000, 998]));
    expect(now).toBeInstanceOf(Promise);
    expect(await now).toEqual(await resolver.resolve(creds(1000, 1000, [1000, 998])));
  });

  it('throws, synchronously, what resolve() rejects with', async () => {
    const failing: UserDirectory = {
      ...plain,
      userByUid: () => {
        throw Object.assign(new Error('EIO'), { code: 'EIO' });
      },
    };
    const resolver = createResolver(config, failing, { logger: recordingLogger() });
    expect(() => resolver.resolveNow(creds(1000))).toThrow(IdentityLookupError);
    await expect(resolver.resolve(creds(1000))).rejects.toBeInstanceOf(IdentityLookupError);
    expect(() => resolver.resolveNow(creds(-1))).toThrow(InvalidUidError);
    await expect(resolver.resolve(creds(-1))).rejects.toBeInstanceOf(InvalidUidError);
  });
});

describe('marks for whoever remembers identities', () => {
  const users = { 1000: { name: 'alice', gid: 1000 } };

  it('an identity built while a gid had no name is marked; one with every gid named is not', async () => {
    const named = createResolver(
      config,
      staticDirectory({ users, groups: { 1000: 'alice', 10: 'wheel' }, groupsByGid: true }),
    );
    expect(unnamedGroupIn(await named.resolve(creds(1000, 1000, [10])))).toBe(false);
    const partly = createResolver(
      config,
      staticDirectory({ users, groups: { 1000: 'alice' }, groupsByGid: true }),
    );
    const identity = await partly.resolve(creds(1000, 1000, [10]));
    expect(unnamedGroupIn(identity)).toBe(true);
    // The mark stays out of what an application serialises.
    expect(JSON.stringify(identity)).not.toContain('unnamed');
    expect(Object.keys(identity)).not.toContain('unnamedGroup');
  });

  it('withPid: a frozen copy for another process, marks kept, nothing else changed', async () => {
    const resolver = createResolver(
      config,
      staticDirectory({ users, groups: { 1000: 'alice' }, groupsByGid: true }),
    );
    const identity = await resolver.resolve(creds(1000, 1000, [10], 4242));
    const copy = withPid(identity, 5151);
    expect(copy.pid).toBe(5151);
    expect(Object.isFrozen(copy)).toBe(true);
    expect({ ...copy, pid: 4242 }).toEqual(identity);
    expect(unnamedGroupIn(copy)).toBe(true);
    expect(lookupFailedDuring(copy)).toBe(false);
    expect(identity.pid).toBe(4242);
  });
});

it('a directory that gains groupsByGid after the resolver was made is asked through it', async () => {
  const directory: UserDirectory = {
    userByUid: async () => ({ name: 'carol', gid: 10 }),
    groupsOf: async () => [],
  };
  const resolver = createResolver(config, directory);
  expect((await resolver.resolve(creds(1000, 10, [10]))).role).toBe('public');
  directory.groupsByGid = async (gids) => gids.map((gid) => ({ gid, name: 'wheel' }));
  expect((await resolver.resolve(creds(1000, 10, [10]))).role).toBe('ops');
});

describe('maxGroupNames: bounded naming per connection', () => {
  const users = { 1000: { name: 'alice', gid: 1000 } };
  const groups: Record<number, string> = { 1000: 'alice' };
  for (let gid = 2000; gid < 2100; gid++) groups[gid] = `g${gid}`;
  const many = Array.from({ length: 100 }, (_, i) => 2000 + i);
  const byName = { people: [], fallbackRole: 'guest', groupRoles: { g2099: 'late', 'gid:2098': 'byNumber' } };

  it('names the first maxGroupNames gids only; a gid:N key still matches past the cap', async () => {
    const directory = staticDirectory({ users, groups, groupsByGid: true });
    const resolver = createResolver(byName, directory, { maxGroupNames: 8 });
    const identity = await resolver.resolve(creds(1000, 1000, many));
    expect(directory.calls.filter((c) => c.startsWith('groupsByGid'))).toEqual([
      `groupsByGid(1000,${many.slice(0, 7).join(',')})`,
    ]);
    expect(identity.role).toBe('byNumber');
    // Cut by the cap is not "the directory had no name": the identity may be remembered as usual.
    expect(unnamedGroupIn(identity)).toBe(false);
    expect(identity.groups).toHaveLength(100);
  });

  it('the trail lists a few groups and counts the rest', async () => {
    const resolver = createResolver(
      { people: [], fallbackRole: 'guest' },
      staticDirectory({ users, groups, groupsByGid: true }),
      { maxGroupNames: 8 },
    );
    const identity = await resolver.resolve(creds(1000, 1000, many));
    const role = identity.trail.find((s) => s.stage === 'role')?.detail ?? '';
    expect(role).toContain('and 85 more');
    expect(role).toContain('the first 8 of 101 gids named, 93 more not (maxGroupNames)');
    expect(role.length).toBeLessThan(1024);
  });

  it('rejects a maxGroupNames that is not a whole number >= 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => createResolver(byName, staticDirectory(), { maxGroupNames: bad })).toThrow(
        /maxGroupNames must be a whole number >= 1/,
      );
  });
});
