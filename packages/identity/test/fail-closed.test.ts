// Issue 11: a wrong identity is worse than no identity. Failed lookups refuse instead of naming a stranger,
// userMaps patterns match whole usernames, unnamed gids grant nothing, selectors follow SPIRE exactly.
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../test-fixtures/logger.js';
import {
  createResolver,
  IdentityConfigError,
  IdentityLookupError,
  type UserDirectory,
  validateIdentityConfig,
} from '../src/index.js';
import { creds, hostDirectory, staticDirectory } from './directory.js';

const blockedConfig = {
  roles: ['owner', 'admin', 'member', 'public', 'blocked'],
  people: [
    { name: 'Slow', role: 'blocked', osUsername: 'pa_slow' },
    { name: 'Alice', role: 'admin', osUsername: 'alice' },
  ],
};

const failingUsers: UserDirectory = {
  userByUid: async () => {
    throw Object.assign(new Error('getpwuid_r failed: Input/output error'), {
      code: 'PEERAUTH_LOOKUP_FAILED',
    });
  },
  groupsOf: async () => [],
};

describe('a failed lookup is not a stranger (lookupFailure)', () => {
  it('rejects with IdentityLookupError naming the lookup and the cause when userByUid fails', async () => {
    const resolver = createResolver(blockedConfig, failingUsers, { logger: recordingLogger() });
    const err = await resolver.resolve(creds(4002, 4002, [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityLookupError);
    expect(err).toMatchObject({
      code: 'PEERAUTH_IDENTITY_LOOKUP_FAILED',
      lookup: 'userByUid',
      timedOut: false,
    });
    expect((err as Error).message).toContain('uid 4002');
    expect((err as Error).message).toContain('Input/output error');
  });

  it('rejects when userByUid times out', async () => {
    const slow: UserDirectory = { userByUid: () => new Promise(() => {}), groupsOf: async () => [] };
    const resolver = createResolver(blockedConfig, slow, { timeoutMs: 20, logger: recordingLogger() });
    const err = await resolver.resolve(creds(4002, 4002, [])).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'PEERAUTH_IDENTITY_LOOKUP_FAILED',
      lookup: 'userByUid',
      timedOut: true,
    });
    expect((err as Error).message).toContain('timed out');
  });

  it('rejects when naming the groups fails', async () => {
    const directory: UserDirectory = {
      userByUid: async () => ({ name: 'alice', gid: 1000 }),
      groupsOf: async () => [],
      groupsByGid: async () => {
        throw new Error('getgrgid_r failed: Numerical result out of range');
      },
    };
    const err = await createResolver(blockedConfig, directory, { logger: recordingLogger() })
      .resolve(creds(1000, 1000, [1000, 27]))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PEERAUTH_IDENTITY_LOOKUP_FAILED', lookup: 'groupsByGid' });
    expect((err as Error).message).toContain('out of range');
  });

  it('rejects when the directory group list (no kernel list) fails', async () => {
    const directory: UserDirectory = {
      userByUid: async () => ({ name: 'alice', gid: 1000 }),
      groupsOf: async () => {
        throw new Error('getgrouplist failed');
      },
    };
    const err = await createResolver(blockedConfig, directory, { logger: recordingLogger() })
      .resolve(creds(1000, 1000, null))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PEERAUTH_IDENTITY_LOOKUP_FAILED', lookup: 'groupsOf' });
  });

  it('"no passwd entry" is still an answer: a stranger gets the fallback role', async () => {
    const identity = await createResolver(blockedConfig, hostDirectory()).resolve(creds(77777, 77777, []));
    expect(identity).toMatchObject({ username: null, role: 'public', fallback: true });
  });

  it('lookupFailure "fallback" keeps the old behaviour: no username, fallback role', async () => {
    const logger = recordingLogger();
    const resolver = createResolver({ ...blockedConfig, lookupFailure: 'fallback' }, failingUsers, {
      logger,
    });
    const identity = await resolver.resolve(creds(4002, 4002, []));
    expect(identity).toMatchObject({ username: null, role: 'public', fallback: true });
    expect(logger.records).toHaveLength(1);
  });

  it('lookupFailure accepts only "reject" and "fallback", default "reject"', () => {
    expect(createResolver({ people: [] }, hostDirectory()).config.lookupFailure).toBe('reject');
    expect(validateIdentityConfig({ people: [], lookupFailure: 'ignore' })).toEqual([
      { path: 'lookupFailure', segments: ['lookupFailure'], message: expect.stringContaining('reject') },
    ]);
  });
});

describe('userMaps patterns match the whole username', () => {
  const config = {
    people: [
      { name: 'alice', role: 'admin' },
      { name: 'Service backup', role: 'member' },
    ],
    userMaps: [
      { systemUser: 'bob', person: 'alice' },
      { systemUser: 'svc-(.+)', person: 'Service $1' },
    ],
  };
  const directory = staticDirectory({
    users: {
      1: { name: 'bob', gid: 1 },
      2: { name: 'bobby', gid: 2 },
      3: { name: 'xbob', gid: 3 },
      4: { name: 'svc-backup', gid: 4 },
      5: { name: 'my-svc-backup', gid: 5 },
      6: { name: 'BOB', gid: 6 },
    },
  });

  it('a short name never matches a longer one (pg_ident.conf semantics)', async () => {
    const resolver = createResolver(config, directory);
    const person = async (uid: number) => (await resolver.resolve(creds(uid, uid, []))).person?.name ?? null;
    expect(await person(1)).toBe('alice');
    expect(await person(2)).toBeNull();
    expect(await person(3)).toBeNull();
    expect(await person(4)).toBe('Service backup');
    expect(await person(5)).toBeNull();
    expect(await person(6)).toBeNull();
  });

  it('ignoreCase: true matches regardless of case, still anchored', async () => {
    const resolver = createResolver(
      { ...config, userMaps: [{ systemUser: 'bob', person: 'alice', ignoreCase: true }] },
      directory,
    );
    expect((await resolver.resolve(creds(6, 6, []))).person?.name).toBe('alice');
    expect((await resolver.resolve(creds(2, 2, []))).person).toBeNull();
  });

  it('check-config rejects a pg_ident "/" prefix, duplicate patterns and inline flags, with hints', () => {
    const issues = validateIdentityConfig({
      people: [{ name: 'alice', role: 'admin' }],
      userMaps: [
        { systemUser: '/^svc-(.*)$', person: 'alice' },
        { systemUser: 'bob', person: 'alice' },
        { systemUser: 'bob', person: 'alice' },
        { systemUser: '(?i)carol', person: 'alice' },
      ],
    });
    expect(issues.map((i) => i.path)).toEqual([
      'userMaps[0].systemUser',
      'userMaps[2].systemUser',
      'userMaps[3].systemUser',
    ]);
    expect(issues[0]?.message).toMatch(/pg_ident.*anchored/);
    expect(issues[1]?.message).toMatch(/duplicate.*userMaps\[1\].*never apply/);
    expect(issues[2]?.message).toMatch(/inline flag.*"ignoreCase": true/);
    expect(() =>
      createResolver({ people: [], userMaps: [{ systemUser: '(?i)x', person: 'y' }] }, hostDirectory()),
    ).toThrow(IdentityConfigError);
  });
});

describe('group names come from the kernel list, each gid named by the directory', () => {
  const config = {
    roles: ['admin', 'ops', 'public'],
    people: [],
    groupRoles: { wheel: 'ops', '7999': 'admin' },
  };

  it('a group held through setgid/newgrp that the passwd name is not listed in still gives its role', async () => {
    // alice holds wheel (999) though /etc/group does not list her in it.
    const directory = hostDirectory(true);
    const identity = await createResolver(config, directory).resolve(creds(1000, 1000, [1000, 999]));
    expect(identity.role).toBe('ops');
    expect(identity.selectors).toContain('unix:supplementary_group:wheel');
    // One call names the whole list; groupsOf is not needed when the kernel reported the groups.
    expect(directory.calls).toEqual(['userByUid(1000)', 'groupsByGid(1000,999)']);
  });

  it('a uid without a passwd entry whose primary group is named gets that group role', async () => {
    const identity = await createResolver(config, hostDirectory(true)).resolve(creds(77777, 999, []));
    expect(identity).toMatchObject({ username: null, role: 'ops', fallback: false });
  });

  it('a gid without a group entry has no name: no group selector, no match by its number', async () => {
    const directory = hostDirectory(true);
    const identity = await createResolver(config, directory).resolve(creds(1000, 1000, [1000, 7999]));
    expect(identity.role).toBe('public');
    expect(identity.selectors).toContain('unix:supplementary_gid:7999');
    expect(identity.selectors.filter((s) => s.endsWith(':7999'))).toEqual(['unix:supplementary_gid:7999']);
    // Without a kernel list the directory's list stands in; its unnamed gid is just as nameless.
    const listed = staticDirectory({
      users: { 1000: { name: 'alice', gid: 1000 } },
      groups: { 1000: 'alice' },
      members: { alice: [7999] },
    });
    const fromDirectory = await createResolver(config, listed).resolve(creds(1000, 1000, null));
    expect(fromDirectory.role).toBe('public');
    expect(fromDirectory.selectors).toContain('unix:supplementary_gid:7999');
  });

  it('a groupRoles key "gid:N" names a gid explicitly', async () => {
    const identity = await createResolver(
      { ...config, groupRoles: { 'gid:7999': 'admin' } },
      hostDirectory(true),
    ).resolve(creds(1000, 1000, [1000, 7999]));
    expect(identity).toMatchObject({ role: 'admin', fallback: false });
    expect(validateIdentityConfig({ people: [], groupRoles: { 'gid:x': 'a' } })).toEqual([
      {
        path: 'groupRoles["gid:x"]',
        segments: ['groupRoles', 'gid:x'],
        message: expect.stringContaining('gid:'),
      },
    ]);
  });
});

describe('selectors are SPIRE unix attestor selectors, in its order', () => {
  it('uid, user, gid, group, then each supplementary gid followed by its name, then path and sha256; no pid', async () => {
    const identity = await createResolver({ people: [] }, hostDirectory(true)).resolve(
      creds(1001, 1001, [999, 7999, 998], 4242),
      { pid: 4242, exePath: '/usr/bin/python3', sha256: 'a'.repeat(64) },
    );
    expect(identity.pid).toBe(4242);
    expect(identity.selectors).toEqual([
      'unix:uid:1001',
      'unix:user:bob',
      'unix:gid:1001',
      'unix:group:bob',
      'unix:supplementary_gid:999',
      'unix:supplementary_group:wheel',
      'unix:supplementary_gid:7999',
      'unix:supplementary_gid:998',
      'unix:supplementary_group:docker',
      'unix:path:/usr/bin/python3',
      `unix:sha256:${'a'.repeat(64)}`,
    ]);
  });
});
