// What an application sees of an identity, pinned across the resolver's cases: its fields and values, the
// trail's texts, how util.inspect, JSON and structuredClone show it, and its marks. The resolver's
// per-connection work is tuned for speed; none of that may change what comes out of it.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../test-fixtures/logger.js';
import {
  createResolver,
  type Identity,
  lookupFailedDuring,
  type UserDirectory,
  unnamedGroupIn,
} from '../src/index.js';
import { creds, hostDirectory, staticDirectory } from './directory.js';

const config = {
  trustDomain: 'example.org',
  trustDomains: { 'partner.example': {} },
  roles: ['admin', 'member', 'ops', 'public', 'gidrole'],
  fallbackRole: 'public',
  people: [
    { name: 'Alice', role: 'admin', osUsername: 'alice' },
    { name: 'Build bot', role: 'member', uids: [4300] },
    { name: 'Service backup', role: 'member' },
    { name: 'Tool', role: 'ops', spiffeIds: ['spiffe://example.org/uid-1005/tool'] },
    { name: 'Partner', role: 'member', spiffeIds: ['spiffe://partner.example/api'] },
    { name: 'Mapped', role: 'ops' },
  ],
  groupRoles: { docker: 'member', 'gid:2500': 'gidrole' },
  userMaps: [
    { systemUser: 'svc-(.+)', person: 'Service $1' },
    { systemUser: 'SVC-O.*', person: 'Mapped', ignoreCase: true },
  ],
  spiffeMaps: [{ spiffeId: 'spiffe://partner\\.example/m/.*', person: 'Mapped' }],
};

/** Everything an application can observe of an identity, as text. */
function observe(identity: Identity): string {
  const clone = structuredClone(identity);
  expect(clone).toStrictEqual({ ...identity });
  expect(Object.isFrozen(identity)).toBe(false);
  for (const step of identity.trail) expect(Object.isFrozen(step)).toBe(false);
  return [
    inspect(identity, { depth: Number.POSITIVE_INFINITY, breakLength: 100 }),
    JSON.stringify(identity),
    `lookupFailed=${lookupFailedDuring(identity)} unnamedGroup=${unnamedGroupIn(identity)}`,
    `keys=${Object.keys(identity).join(',')} trailKeys=${identity.trail.map((s) => Object.keys(s).join('/')).join(',')}`,
  ].join('\n');
}

const many = Array.from({ length: 20 }, (_, i) => 3000 + i);
const directory = (): UserDirectory =>
  staticDirectory({
    groupsByGid: true,
    users: {
      0: { name: 'root', gid: 0 },
      1000: { name: 'alice', gid: 1000 },
      1002: { name: 'svc-backup', gid: 1002 },
      1003: { name: 'svc-unknown', gid: 1003 },
      1004: { name: 'SVC-Other', gid: 1004 },
      1005: { name: 'tool"user\u0007', gid: 1005 },
      1006: { name: 'plain', gid: 2500 },
      1007: { name: 'plainer', gid: 1007 },
      4300: { name: 'builder', gid: 4300 },
    },
    groups: { 0: 'root', 998: 'docker', 1000: 'alice', 3001: 'g"1', 3005: 'five' },
    members: {},
  });

const cases: [string, Parameters<ReturnType<typeof createResolver>['resolve']>][] = [
  ['fallback, one named group', [creds(0, 0, [0])]],
  ['uid listed, with an executable', [creds(4300, 4300, []), { pid: 7, exePath: '/usr/bin/my tool' }]],
  ['osUsername', [creds(1000, 1000, [1000, 998]), { pid: 9, exePath: '/opt/é/x', sha256: 'ab'.repeat(32) }]],
  ['userMaps hit', [creds(1002, 1002, [])]],
  ['userMaps miss, then an ignoreCase hit', [creds(1004, 1004, [])]],
  ['userMaps miss for every rule', [creds(1003, 1003, [998])]],
  ['spiffeIds, quoted username', [creds(1005, 1005, []), { pid: 3, exePath: '/bin/tool' }]],
  ['group by gid key', [creds(1006, 2500, [2500, 998])]],
  ['group by name', [creds(1007, 1007, [1007, 998])]],
  ['many groups, some named, capped', [creds(1007, 1007, many)]],
  ['no passwd entry, kernel groups', [creds(77, 77, [77, 3005])]],
  ['no passwd entry, no kernel groups', [creds(78, 78, null)]],
  ['directory groups', [creds(1000, 1000, null)]],
  ['executable path without a name', [creds(0, 0, []), { pid: 5, exePath: '/usr/bin/' }]],
  ['pid from the process', [creds(0, 0, [0], null), { pid: 11, exePath: '/x' }]],
];

describe('identity shape', () => {
  it.each(cases)('%s', async (_name, args) => {
    const resolver = createResolver(config, directory(), { maxGroupNames: 8, logger: recordingLogger() });
    const first = await resolver.resolve(...args);
    expect(observe(first)).toMatchSnapshot();
    // Answered twice, the same again (nothing kept from one call leaks into the next).
    expect(observe(await resolver.resolve(...args))).toBe(observe(first));
  });

  it('one resolver answering every case in turn answers each as a new resolver does', async () => {
    const fresh = async (args: (typeof cases)[number][1]) =>
      observe(await createResolver(config, directory(), { maxGroupNames: 8 }).resolve(...args));
    const shared = createResolver(config, directory(), { maxGroupNames: 8 });
    // Twice over, and each case twice in a row: a repeat and a change of any input both come up.
    for (const [, args] of [...cases, ...cases]) {
      expect(observe(await shared.resolve(...args))).toBe(await fresh(args));
      expect(observe(await shared.resolve(...args))).toBe(await fresh(args));
    }
  });

  it('each identity has trail steps of its own: changing one changes no other', async () => {
    const resolver = createResolver(config, directory());
    const first = await resolver.resolve(creds(0, 0, [0]), { pid: 1, exePath: '/bin/x' });
    const second = await resolver.resolve(creds(0, 0, [0]), { pid: 2, exePath: '/bin/x' });
    const before = JSON.stringify(second.trail);
    for (const [i, step] of first.trail.entries()) {
      expect(step).not.toBe(second.trail[i]);
      step.detail = 'changed';
      step.result = 'changed';
    }
    expect(JSON.stringify(second.trail)).toBe(before);
    const third = await resolver.resolve(creds(0, 0, [0]), { pid: 3, exePath: '/bin/x' });
    expect(JSON.stringify(third.trail)).toBe(before);
  });

  it('a lookup that failed under lookupFailure "fallback"', async () => {
    const failing: UserDirectory = {
      userByUid: () => ({ name: 'alice', gid: 1000 }),
      groupsOf: () => [],
      groupsByGid: () => {
        throw Object.assign(new Error('nss down'), { code: 'EIO' });
      },
    };
    const resolver = createResolver({ ...config, lookupFailure: 'fallback' }, failing, {
      logger: recordingLogger(),
    });
    expect(observe(await resolver.resolve(creds(1000, 1000, [1000, 998])))).toMatchSnapshot();
  });

  it('the host directory, without groupsByGid', async () => {
    const resolver = createResolver(config, hostDirectory(false), { logger: recordingLogger() });
    expect(observe(await resolver.resolve(creds(1003, 1003, [998, 999])))).toMatchSnapshot();
  });

  it.each([
    ['spiffe://partner.example/api', 'partner.example'],
    ['spiffe://partner.example/m/x', 'partner.example'],
    ['spiffe://partner.example/nobody', 'partner.example'],
  ])('an SVID %s', (spiffeId, trustDomain) => {
    const resolver = createResolver(config, directory());
    expect(observe(resolver.resolveSvid({ spiffeId, trustDomain }))).toMatchSnapshot();
  });
});
