import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  uidIsFree,
} from '../../../test-fixtures/users.js';
import {
  curlJson,
  curlStatus,
  type RunningCli,
  run,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from './helpers.js';

const WHOAMI_FIELDS = [
  'uid',
  'gid',
  'pid',
  'groups',
  'username',
  'person',
  'role',
  'fallback',
  'spiffeId',
  'selectors',
];

describe('peerauth serve (as the current user)', () => {
  let dir: string;
  let cli: RunningCli;
  beforeAll(async () => {
    dir = tempDir();
    cli = await startCli(['serve'], path.join(dir, 's.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the socket path and a curl line to try', () => {
    expect(cli.stdout()).toContain(`listening on ${cli.socket}`);
    expect(cli.stdout()).toContain(`curl --unix-socket ${cli.socket} http://localhost/whoami`);
  });

  it('GET /whoami returns exactly the identity fields, matching id -u / id -g', async () => {
    const body = await curlJson(cli.socket, '/whoami');
    expect(Object.keys(body).sort()).toEqual([...WHOAMI_FIELDS].sort());
    expect(body.uid).toBe(Number(execFileSync('id', ['-u'], { encoding: 'utf8' })));
    expect(body.gid).toBe(Number(execFileSync('id', ['-g'], { encoding: 'utf8' })));
    // The embedded default: whoever runs peerauth is the person "owner".
    expect(body.person).toBe('owner');
    expect(body.role).toBe('owner');
    expect(body.fallback).toBe(false);
    expect(typeof body.pid).toBe('number');
  });

  it('GET /healthz is 200 and unknown paths are 404', async () => {
    expect(await curlStatus(cli.socket, '/healthz')).toBe('200');
    expect(await curlStatus(cli.socket, '/nope')).toBe('404');
  });

  it('whoami prints what the server sees', async () => {
    const r = await run(process.execPath, [
      path.resolve(__dirname, '../dist/bin.js'),
      'whoami',
      '--json',
      '--socket',
      cli.socket,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).role).toBe('owner');
  });

  it('the socket file has the default mode 0660', () => {
    expect(fs.statSync(cli.socket).mode & 0o777).toBe(0o660);
  });
});

describe('peerauth whoami without a server', () => {
  it('fails with a clear message and exit 1', async () => {
    const r = await run(process.execPath, [
      path.resolve(__dirname, '../dist/bin.js'),
      'whoami',
      '--socket',
      '/tmp/pacli-none/none.sock',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no peerauth server is listening there');
  });
});

describeAsRoot('peerauth serve with other users (setpriv)', () => {
  const alice = { name: 'pacli-alice', uid: 43010, gid: 43001 };
  const stranger = { uid: 43099, gid: 43098 };
  let dir: string;
  let cli: RunningCli;
  let refusing: RunningCli;
  let groups: number[];

  beforeAll(async () => {
    expect(uidIsFree(stranger.uid)).toBe(true);
    createTestGroup('pacli-main', 43001);
    createTestGroup('pacli-ops', 43002);
    groups = createTestUser(alice.name, {
      uid: alice.uid,
      gid: alice.gid,
      supplementary: ['pacli-ops'],
    }).groups;
    dir = tempDir();
    const config = writeConfig(dir, {
      roles: ['admin', 'member', 'public'],
      people: [{ name: 'Alice', role: 'admin', osUsername: alice.name }],
      groupRoles: { 'pacli-ops': 'member' },
    });
    cli = await startCli(['serve', '--config', config, '--mode', '0666'], path.join(dir, 'open.sock'));
    refusing = await startCli(
      ['serve', '--config', config, '--mode', '0666', '--allow-roles', 'admin,member'],
      path.join(dir, 'strict.sock'),
    );
  });
  afterAll(async () => {
    await cli?.stop();
    await refusing?.stop();
    removeTestUser(alice.name);
    removeTestGroup('pacli-ops');
    removeTestGroup('pacli-main');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a configured person gets their role, with the kernel-reported uid, gid and groups', async () => {
    const supplementary = groups.filter((g) => g !== alice.gid);
    const body = await curlJson(cli.socket, '/whoami', {
      uid: alice.uid,
      gid: alice.gid,
      groups: supplementary,
    });
    expect(body.uid).toBe(Number(execFileSync('id', ['-u', alice.name], { encoding: 'utf8' })));
    expect(body.gid).toBe(Number(execFileSync('id', ['-g', alice.name], { encoding: 'utf8' })));
    expect(body.groups).toEqual(supplementary);
    expect(body.username).toBe(alice.name);
    expect(body.person).toBe('Alice');
    expect(body.role).toBe('admin');
    expect(body.fallback).toBe(false);
    expect(body.spiffeId).toBe(`spiffe://peerauth.local/uid-${alice.uid}`);
    expect(body.selectors).toContain('unix:supplementary_group:pacli-ops');
  });

  it('an unknown uid with no passwd entry gets the fallback role', async () => {
    const body = await curlJson(cli.socket, '/whoami', stranger);
    expect(body.uid).toBe(stranger.uid);
    expect(body.gid).toBe(stranger.gid);
    expect(body.username).toBeNull();
    expect(body.person).toBeNull();
    expect(body.role).toBe('public');
    expect(body.fallback).toBe(true);
  });

  it('a refused role gets a 403 naming only the class of refusal, and leaves an audit line', async () => {
    const r = await run(
      'curl',
      ['-sS', '--unix-socket', refusing.socket, '-w', '%{http_code}', 'http://localhost/whoami'],
      stranger,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('peerauth: connection refused (role not allowed)\n403');
    const findAudit = () =>
      refusing
        .stderr()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => e.decision === 'rejected' && e.peerUid === stranger.uid);
    // The log line travels through a pipe; it may arrive just after curl has seen the close.
    await waitFor(() => findAudit() !== undefined);
    expect(findAudit()).toMatchObject({ event: 'peerauth.connection', role: 'public' });
    // The admitted role still works on the same server.
    const ok = await curlJson(refusing.socket, '/whoami', {
      uid: alice.uid,
      gid: alice.gid,
      groups: [43002],
    });
    expect(ok.role).toBe('admin');
  });
});
