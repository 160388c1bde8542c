// SPIFFE-ID rules in the identity config: one person reached locally (a Unix peer's own SPIFFE ID) and
// remotely (a verified X.509-SVID), spiffeMaps, the fallback role, and the config's checks.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import {
  bundleSet,
  checkSvidRules,
  createResolver,
  type Identity,
  IdentityConfigError,
  loadBundle,
  SvidVerificationError,
  validateIdentityConfig,
} from '../src/index.js';
import { creds, staticDirectory } from './directory.js';

const config = {
  trustDomain: 'example.org',
  roles: ['deployer', 'reader', 'public'],
  trustDomains: { 'a.test': { bundle: '/etc/peerauth/a.test.pem' } },
  people: [
    {
      name: 'Deploy bot',
      role: 'deployer',
      spiffeIds: ['spiffe://example.org/uid-4400/deploy', 'spiffe://a.test/workload'],
    },
    { name: 'Reader', role: 'reader' },
    { name: 'Service billing', role: 'reader' },
  ],
  spiffeMaps: [{ spiffeId: 'spiffe://a\\.test/svc/(.+)', person: 'Service $1' }],
};

const directory = () => staticDirectory({ users: { 4400: { name: 'deploy', gid: 4400 } } });

describe('resolveSvid', () => {
  let certs: SvidCerts;
  beforeAll(() => {
    certs = createSvidCerts();
  }, 60_000);
  afterAll(() => certs?.cleanup());

  it('the same person and role for a local peer by its own SPIFFE ID and a remote peer by a real SVID', async () => {
    const resolver = createResolver(config, directory());
    const local = await resolver.resolve(creds(4400, 4400, []), { pid: 7, exePath: '/usr/local/bin/deploy' });
    expect(local.spiffeId).toBe('spiffe://example.org/uid-4400/deploy');
    expect(local.person?.name).toBe('Deploy bot');
    expect(local.role).toBe('deployer');
    expect(local.auth).toBe('unix');

    const verified = checkSvidRules(
      [certs.good.pem],
      bundleSet([loadBundle('a.test', readFileSync(certs.bundleA))]),
    );
    const remote = resolver.resolveSvid(verified);
    expect(remote).toMatchObject({
      auth: 'x509-svid',
      trustDomain: 'a.test',
      spiffeId: 'spiffe://a.test/workload',
      role: 'deployer',
      fallback: false,
      selectors: [],
    });
    expect(remote.person).toBe(local.person);
    expect(remote.trail.map((s) => s.stage)).toEqual(['spiffe', 'person', 'role']);
    expect(remote.trail[1]?.detail).toContain('listed in spiffeIds of "Deploy bot"');
  });

  it('without the executable the local ID differs and does not match: the ID is compared whole', async () => {
    const resolver = createResolver(config, directory());
    const local = await resolver.resolve(creds(4400, 4400, []));
    expect(local.spiffeId).toBe('spiffe://example.org/uid-4400');
    expect(local.person).toBeNull();
    expect(local.role).toBe('public');
  });

  it('spiffeMaps: an anchored pattern with a template names a person', () => {
    const resolver = createResolver(config, directory());
    const id = resolver.resolveSvid({ spiffeId: 'spiffe://a.test/svc/billing', trustDomain: 'a.test' });
    expect(id.person?.name).toBe('Service billing');
    expect(id.role).toBe('reader');
    expect(id.trail[1]?.detail).toBe(
      'spiffeMaps[0] "spiffe://a\\\\.test/svc/(.+)" matched "spiffe://a.test/svc/billing", naming "Service billing"',
    );
    // Anchored: a longer ID that merely contains a match is no one.
    const longer = resolver.resolveSvid({ spiffeId: 'spiffe://a.test/x/svc/billing', trustDomain: 'a.test' });
    expect(longer.person).toBeNull();
  });

  it('a stranger from an accepted trust domain gets the fallback role, and the trail says why', () => {
    const resolver = createResolver(config, directory());
    const id = resolver.resolveSvid({ spiffeId: 'spiffe://a.test/nobody', trustDomain: 'a.test' });
    expect(id).toMatchObject({ person: null, role: 'public', fallback: true });
    expect(id.trail[2]?.detail).toContain('a remote peer has no groups');
  });

  it('refuses an SVID of a trust domain the config does not accept, even one verified elsewhere', () => {
    const resolver = createResolver(config, directory());
    let caught: unknown;
    try {
      resolver.resolveSvid({ spiffeId: 'spiffe://b.test/workload', trustDomain: 'b.test' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SvidVerificationError);
    expect(caught).toMatchObject({
      code: 'PEERAUTH_SVID_UNTRUSTED_DOMAIN',
      spiffeId: 'spiffe://b.test/workload',
    });
  });

  it('a remote identity has no uid in its type, and narrowing on auth gives it back for a Unix one', async () => {
    const resolver = createResolver(config, directory());
    const remote: Identity = resolver.resolveSvid({
      spiffeId: 'spiffe://a.test/workload',
      trustDomain: 'a.test',
    });
    // @ts-expect-error: uid exists only on a UnixIdentity
    expect(remote.uid).toBeUndefined();
    const local: Identity = await resolver.resolve(creds(4400, 4400, []));
    expect(local.auth === 'unix' ? local.uid : null).toBe(4400);
  });
});

describe('config checks for SPIFFE rules', () => {
  const problems = (value: object) => validateIdentityConfig(value).map((i) => `${i.path}: ${i.message}`);

  it('names each bad spiffeIds entry by its path', () => {
    const out = problems({
      trustDomain: 'example.org',
      trustDomains: { 'a.test': { bundle: '/x.pem' } },
      people: [
        { name: 'A', role: 'public', spiffeIds: ['spiffe://a.test/ok', 'https://a.test/x'] },
        { name: 'B', role: 'public', spiffeIds: ['spiffe://a.test/ok', 'spiffe://c.test/x'] },
        { name: 'C', role: 'public', spiffeIds: ['spiffe://a.test'] },
      ],
    });
    expect(out).toEqual([
      expect.stringMatching(/^people\[0\]\.spiffeIds\[1\]: invalid SPIFFE ID "https:\/\/a\.test\/x": /),
      'people[1].spiffeIds[0]: duplicate SPIFFE ID "spiffe://a.test/ok": already used by people[0] ("A")',
      'people[1].spiffeIds[1]: trust domain "c.test" is neither trustDomain ("example.org") nor a key of trustDomains, so no peer can have this ID',
      'people[2].spiffeIds[0]: SPIFFE ID "spiffe://a.test" has no path: it names the trust domain, and no workload\'s SVID may carry it; give the workload\'s ID (spiffe://a.test/...)',
    ]);
  });

  it('checks spiffeMaps like userMaps, and trustDomains keys and fields', () => {
    const out = problems({
      people: [{ name: 'A', role: 'public' }],
      spiffeMaps: [
        { spiffeId: 'spiffe://a\\.test/(.+)', person: 'Nobody' },
        { spiffeId: 'spiffe://a\\.test/x', person: '$2' },
        { spiffeId: 'spiffe://a\\.test/(.+)', person: 'A' },
        { spiffeId: 'spiffe://a\\.test/y', person: 'A', systemUser: 'x' },
      ],
      trustDomains: { 'Bad Domain': { bundle: '/x.pem' }, 'a.test': { file: '/x.pem' } },
    });
    expect(out).toContain('spiffeMaps[0].person: names no person: no entry in people has name "Nobody"');
    expect(out).toContain('spiffeMaps[1].person: "$2" refers to capture group $2 but spiffeId has 0 groups');
    expect(out).toContain(
      'spiffeMaps[2].spiffeId: duplicate pattern "spiffe://a\\\\.test/(.+)": spiffeMaps[0] has the same one, so this rule can never apply',
    );
    expect(out.some((l) => l.startsWith('spiffeMaps[3].systemUser: unknown field'))).toBe(true);
    expect(
      out.some((l) => l.startsWith('trustDomains["Bad Domain"]: invalid trust domain "Bad Domain"')),
    ).toBe(true);
    expect(out.some((l) => l.startsWith('trustDomains["a.test"].file: unknown field'))).toBe(true);
    // A domain without a bundle file is valid: its bundle may come from the SPIFFE Workload API.
    expect(out.some((l) => l.startsWith('trustDomains["a.test"].bundle:'))).toBe(false);
  });

  it('a valid config with SPIFFE rules parses, frozen', () => {
    const resolver = createResolver(config, directory());
    expect(Object.isFrozen(resolver.config.spiffeMaps[0])).toBe(true);
    expect(Object.isFrozen(resolver.config.trustDomains)).toBe(true);
    expect(Object.isFrozen(resolver.config.people[0]?.spiffeIds)).toBe(true);
    expect(() =>
      createResolver({ ...config, spiffeMaps: [{ spiffeId: '/x/', person: 'A' }] }, directory()),
    ).toThrow(IdentityConfigError);
  });
});
