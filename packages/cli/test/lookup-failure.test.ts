// A user database that fails or hangs for some uids (an LD_PRELOAD library in the server process) must
// not turn those users into strangers: people configured as "blocked" were admitted as "public" when
// their lookup timed out or failed. Now the connection is refused and `peerauth resolve` says why.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type NssFault, nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { type RunningCli, run, runCli, startCli, tempDir, waitFor, writeConfig } from './helpers.js';

const GROUP = { name: 'pa11-cli-g', gid: 44330 };
const SLOW = { name: 'pa11-slow', uid: 44201 };
const EIO = { name: 'pa11-eio', uid: 44202 };
const ERANGE = { name: 'pa11-erange', uid: 44203 };
const OK = { name: 'pa11-ok', uid: 44204 };
const USERS = [SLOW, EIO, ERANGE, OK];
// A gid whose getgrgid_r fails: a peer holding it cannot have its groups named.
const BROKEN_GID = 44332;

const FAULTS: NssFault[] = [
  { call: 'getpwuid_r', key: SLOW.uid, action: 'sleep3000' },
  { call: 'getpwuid_r', key: EIO.uid, action: 'EIO' },
  { call: 'getpwuid_r', key: ERANGE.uid, action: 'ERANGE' },
  { call: 'getgrgid_r', key: BROKEN_GID, action: 'EIO' },
];

const CONFIG = {
  roles: ['owner', 'admin', 'member', 'public', 'blocked'],
  people: [
    { name: 'Slow', role: 'blocked', osUsername: SLOW.name },
    { name: 'Eio', role: 'blocked', osUsername: EIO.name },
    { name: 'Erange', role: 'blocked', osUsername: ERANGE.name },
    { name: 'Ok', role: 'member', osUsername: OK.name },
  ],
};

function whoami(socket: string, uid: number, groups: number[] = []) {
  return run(
    'curl',
    ['-sS', '-m', '20', '-w', '\n%{http_code}', '--unix-socket', socket, 'http://localhost/whoami'],
    { uid, gid: GROUP.gid, groups },
  );
}

function rejections(stderr: string, uid: number): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.decision === 'rejected' && e.peerUid === uid);
}

describeAsRoot('user lookups that fail or time out (LD_PRELOAD NSS faults)', () => {
  let dir: string;
  let configFile: string;
  let cli: RunningCli;

  beforeAll(async () => {
    for (const u of USERS) removeTestUser(u.name);
    removeTestGroup(GROUP.name);
    createTestGroup(GROUP.name, GROUP.gid);
    for (const u of USERS) createTestUser(u.name, { uid: u.uid, gid: GROUP.gid });
    dir = tempDir();
    configFile = writeConfig(dir, CONFIG);
    cli = await startCli(
      ['serve', '--mode', '0666', '--config', configFile, '--allow-roles', 'owner,admin,member,public'],
      path.join(dir, 's.sock'),
      { env: nssFaultEnv(FAULTS) },
    );
  });

  afterAll(async () => {
    await cli?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    for (const u of USERS) removeTestUser(u.name);
    removeTestGroup(GROUP.name);
  });

  it('a working lookup still admits its person', async () => {
    const r = await whoami(cli.socket, OK.uid);
    expect(r.stdout.endsWith('\n200')).toBe(true);
    expect(JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('\n')))).toMatchObject({ role: 'member' });
  });

  it('a group lookup that fails refuses the connection too, even for an admitted person', async () => {
    const r = await whoami(cli.socket, OK.uid, [BROKEN_GID]);
    // serve tells a refused caller the class of the refusal (403), never the failure itself.
    expect(r.stdout).toBe('peerauth: connection refused (identity unknown)\n\n403');
    await waitFor(() => rejections(cli.stderr(), OK.uid).length >= 1);
    const reason = String(rejections(cli.stderr(), OK.uid)[0]?.reason);
    expect(reason).toContain('PEERAUTH_IDENTITY_LOOKUP_FAILED');
    expect(reason).toContain(`gid ${BROKEN_GID}`);
    // The same person without that group is admitted: nothing was cached from the failure.
    expect((await whoami(cli.socket, OK.uid)).stdout.endsWith('\n200')).toBe(true);
  });

  it.each([
    ['fails with EIO', EIO, 'EIO'],
    ['fails with ERANGE', ERANGE, 'ERANGE'],
    // Last: the worker abandoned at the pool timeout returns from NSS later, and a late return can still
    // bring the server down (issue 12), which must not decide the other cases.
    ['times out', SLOW, 'timed out'],
  ])('a lookup that %s refuses the connection with an audit line, every time', async (_, user, cause) => {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const r = await whoami(cli.socket, user.uid);
      expect(r.stdout).not.toContain('"role"');
      expect(r.stdout).toBe('peerauth: connection refused (identity unknown)\n\n403');
      // Not cached: the next connection is looked up (and refused) again.
      // The audit line may reach the pipe just after curl saw the close.
      await waitFor(() => rejections(cli.stderr(), user.uid).length >= attempt);
      const lines = rejections(cli.stderr(), user.uid);
      expect(lines).toHaveLength(attempt);
      expect(String(lines.at(-1)?.reason)).toContain('PEERAUTH_IDENTITY_LOOKUP_FAILED');
      expect(String(lines.at(-1)?.reason)).toContain(`uid ${user.uid}`);
      expect(String(lines.at(-1)?.reason)).toContain(cause);
    }
  });

  it('with lookupFailure "fallback", an identity built after a failed lookup is never remembered', async () => {
    const fallbackDir = tempDir();
    const fallback = await startCli(
      [
        'serve',
        '--mode',
        '0666',
        '--config',
        writeConfig(fallbackDir, { ...CONFIG, lookupFailure: 'fallback' }),
      ],
      path.join(fallbackDir, 's.sock'),
      { env: nssFaultEnv(FAULTS) },
    );
    try {
      // One curl process, two connections (the server closes each): the same pid, uid, gid and groups,
      // which the server's identity memo would answer from memory on the second connection.
      const url = 'http://localhost/whoami';
      const r = await run(
        'curl',
        ['-sS', '-m', '20', '-H', 'Connection: close', '--unix-socket', fallback.socket, url, url],
        { uid: OK.uid, gid: GROUP.gid, groups: [BROKEN_GID] },
      );
      expect(r.stdout.match(/"role": ?"member"/g), r.stdout + r.stderr).toHaveLength(2);
      const warnings = () =>
        fallback
          .stderr()
          .split('\n')
          .filter((l) => l.includes('"lookup":"groupsByGid"') && l.includes(String(BROKEN_GID)));
      // Each connection's warning comes before its audit line. Both connections asked for the group again
      // (and logged its failure): nothing pinned the answer.
      const admitted = () =>
        fallback
          .stderr()
          .split('\n')
          .filter((l) => l.includes('"decision":"closed"'));
      await waitFor(() => admitted().length >= 2);
      expect(warnings()).toHaveLength(2);
    } finally {
      await fallback.stop();
      fs.rmSync(fallbackDir, { recursive: true, force: true });
    }
  });

  it('peerauth resolve shows the failure and exits 1', async () => {
    // (A timed-out lookup is left out here: closing the pool under a worker stuck in NSS is issue 12's.)
    for (const who of [EIO.name, String(EIO.uid), ERANGE.name]) {
      const r = await runCli(['resolve', who, '--config', configFile], { env: nssFaultEnv(FAULTS) });
      expect(r.code, who).toBe(1);
      expect(r.stderr).toMatch(/lookup.*(failed|timed out)/i);
      expect(r.stdout).not.toContain('role');
    }
  });
});
