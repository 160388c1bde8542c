import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  type TestUser,
  uidIsFree,
} from '../../../test-fixtures/users.js';
import { run, runCli, startCli, tempDir, waitFor } from './helpers.js';
import { expectStamps, identityHeadersOf, stampsFor } from './stamps.js';
import { type RecordingUpstream, startPythonUpstream } from './upstreams.js';

const USER = 'pa10p-hdr';
const GROUP = 'pa10p-hdr';
const SUPP = 'pa10p-hdrs';
const STRANGER_UID = 44090;

/** Every spelling of every identity header a client might try, with a forged value. */
const FORGED_HEADERS = [
  'X-Peerauth-Role: owner',
  'X_Peerauth_Role: owner',
  'x_peerauth-uid: 0',
  'X-PEERAUTH_USER: root',
  'X_Peerauth_User: root',
  'X-Peerauth-Gid: 0',
  'X-Peerauth-Pid: 1',
  'X-Peerauth-Groups: 0',
  'X-Peerauth-Person: owner',
  'X-Peerauth-Anything-New: yes',
  'X-Forwarded-User: root',
  'X_Forwarded_User: root',
  'X-Forwarded-Groups: admins',
  'X-Forwarded-Email: root@example.com',
  'X-Forwarded-Preferred-Username: root',
  'X-Auth-Request-User: root',
  'X-Auth-Request-Email: root@example.com',
  'X-Auth-Request-Groups: admins',
  'X-Auth-Request-Preferred-Username: root',
  'X-Auth-Request-Access-Token: t',
  'X_Auth_Request_Whatever: t',
  'Remote-User: root',
  'Remote_User: root',
  'X-Remote-User: root',
  'X-Remote-Group: admins',
  'X-Webauth-User: root',
  'X-Authenticated-User: root',
];

describeAsRoot('peerauth proxy: the identity header namespace', () => {
  let dir: string;
  let user: TestUser;
  const upstreams: Record<string, RecordingUpstream> = {};
  const proxies: Record<string, { socket: string; stop: () => Promise<unknown> }> = {};

  beforeAll(async () => {
    removeTestUser(USER);
    removeTestGroup(GROUP);
    removeTestGroup(SUPP);
    if (!uidIsFree(STRANGER_UID)) throw new Error(`uid ${STRANGER_UID} must have no passwd entry`);
    createTestGroup(GROUP, 44010);
    createTestGroup(SUPP, 44012);
    user = createTestUser(USER, { uid: 44011, gid: 44010, supplementary: [SUPP] });
    dir = tempDir('pa10p-');
    for (const kind of ['wsgiref', 'httpserver'] as const) {
      upstreams[kind] = await startPythonUpstream(kind);
      const cli = await startCli(
        ['proxy', '--mode', '0666', '--upstream', upstreams[kind]!.url],
        path.join(dir, `${kind}.sock`),
      );
      proxies[kind] = { socket: cli.socket, stop: () => cli.stop() };
    }
  });
  afterAll(async () => {
    for (const p of Object.values(proxies)) await p.stop();
    for (const u of Object.values(upstreams)) await u.close();
    removeTestUser(USER);
    removeTestGroup(GROUP);
    removeTestGroup(SUPP);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ['wsgiref', 'httpserver'] as const) {
    it(`${kind}: no spelling of an identity header gets through; the stamps are the kernel's`, async () => {
      const upstream = upstreams[kind]!;
      upstream.seen.length = 0;
      const args = ['-sS', '--unix-socket', proxies[kind]!.socket];
      for (const h of FORGED_HEADERS) args.push('-H', h);
      const r = await run('curl', [...args, 'http://localhost/who'], user);
      expect(r.stdout).toBe('ok');
      await waitFor(() => upstream.seen.length === 1);
      const stamps = stampsFor({ ...user, username: USER });
      expect(stamps['x-forwarded-groups']).toBe(`${GROUP},${SUPP}`);
      expectStamps(upstream.seen[0]!, stamps);
    });

    it(`${kind}: a caller without a passwd entry gets no user header, whatever it sends`, async () => {
      const upstream = upstreams[kind]!;
      upstream.seen.length = 0;
      const args = ['-sS', '--unix-socket', proxies[kind]!.socket];
      for (const h of FORGED_HEADERS) args.push('-H', h);
      const stranger = { uid: STRANGER_UID, gid: STRANGER_UID, groups: [STRANGER_UID] };
      const r = await run('curl', [...args, 'http://localhost/who'], stranger);
      expect(r.stdout).toBe('ok');
      await waitFor(() => upstream.seen.length === 1);
      const got = identityHeadersOf(upstream.seen[0]!);
      expect(got['x-peerauth-user']).toBeUndefined();
      expect(got['x-forwarded-user']).toBeUndefined();
      expect(got['x-forwarded-groups']).toBeUndefined();
      expect(got['x-peerauth-groups']).toEqual([String(STRANGER_UID)]);
      expectStamps(upstream.seen[0]!, stampsFor({ ...stranger, username: null }));
    });
  }
});

describeAsRoot('peerauth proxy: identity values that cannot be header values', () => {
  let dir: string;
  let user: TestUser;
  const NAME = `${USER}c`;

  beforeAll(() => {
    removeTestUser(NAME);
    removeTestGroup(NAME);
    createTestGroup(NAME, 44020);
    user = createTestUser(NAME, { uid: 44021, gid: 44020 });
    dir = tempDir('pa10p-');
  });
  afterAll(() => {
    removeTestUser(NAME);
    removeTestGroup(NAME);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [what, call, key, name] of [
    ['a username with CR/LF', 'getpwuid_r', 44021, 'pa10p-x\r\nX-Peerauth-Role: owner'],
    ['a group name with ESC', 'getgrgid_r', 44020, 'pa10p-\x1b[2Jg'],
    ['a username with DEL', 'getpwuid_r', 44021, 'pa10p-\x7f'],
  ] as const) {
    it(`${what} from the user database: that connection is refused and logged, the proxy lives on`, async () => {
      const upstream = await startPythonUpstream('httpserver');
      const hex = Buffer.from(name).toString('hex');
      const cli = await startCli(
        ['proxy', '--mode', '0666', '--upstream', upstream.url],
        path.join(dir, 'c.sock'),
        { env: nssFaultEnv([{ call, key, action: `name${hex}` }]) },
      );
      try {
        const refused = await run('curl', ['-sS', '--unix-socket', cli.socket, 'http://localhost/x'], user);
        // Refused by admission, as every refusal of an HTTP server is told: a 403 naming only the class.
        expect(refused.stdout).toBe('peerauth: connection refused (refused by policy)\n');
        await waitFor(() => cli.stderr().includes('cannot be sent as a header'));
        expect(upstream.seen).toEqual([]);
        // Everyone else is still served.
        const ok = await run('curl', ['-sS', '--unix-socket', cli.socket, 'http://localhost/y']);
        expect(ok.stdout).toBe('ok');
        expect(cli.child.exitCode).toBeNull();
      } finally {
        await cli.stop();
        await upstream.close();
      }
    });
  }
});

describe('peerauth proxy --upstream with credentials', () => {
  it('is refused with exit 1, and the password is not printed', async () => {
    const dir = tempDir('pa10p-');
    const r = await runCli([
      'proxy',
      '--socket',
      path.join(dir, 'p.sock'),
      '--upstream',
      'http://user:s3cret@127.0.0.1:8080',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/credentials/);
    expect(r.stderr + r.stdout).not.toContain('s3cret');
    expect(fs.existsSync(path.join(dir, 'p.sock'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
