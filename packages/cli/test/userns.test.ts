// `unshare -U -r peerauth serve`: inside the user namespace every peer whose uid is not mapped arrives
// as the overflow uid 65534. Three real users (an admin, a blocked one, a stranger) used to become the
// same {"uid":65534,"username":"nobody"}; now each is refused, and a mapped peer still gets through.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { bin, run, tempDir, waitFor, writeConfig } from './helpers.js';

const GROUP = { name: 'pa11-cli-ns', gid: 44331 };
const ADMIN = { name: 'pa11-ns-admin', uid: 44211 };
const BLOCKED = { name: 'pa11-ns-blocked', uid: 44212 };
const STRANGER_UID = 44298;

describeAsRoot('peerauth serve inside a user namespace (unshare -U -r)', () => {
  let dir: string;
  let socket: string;
  let child: ChildProcess;
  let stderr = '';

  beforeAll(async () => {
    for (const u of [ADMIN, BLOCKED]) removeTestUser(u.name);
    removeTestGroup(GROUP.name);
    createTestGroup(GROUP.name, GROUP.gid);
    for (const u of [ADMIN, BLOCKED]) createTestUser(u.name, { uid: u.uid, gid: GROUP.gid });
    dir = tempDir();
    socket = path.join(dir, 's.sock');
    const config = writeConfig(dir, {
      roles: ['admin', 'public', 'blocked'],
      people: [
        { name: 'root', role: 'admin', uids: [0] },
        { name: 'Admin', role: 'admin', osUsername: ADMIN.name },
        { name: 'Blocked', role: 'blocked', osUsername: BLOCKED.name },
      ],
    });
    child = spawn(
      'unshare',
      [
        '-U',
        '-r',
        process.execPath,
        bin,
        'serve',
        '--socket',
        socket,
        '--mode',
        '0666',
        '--log-format',
        'json',
        '--config',
        config,
        '--allow-roles',
        'admin,public',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    await waitFor(() => stdout.includes('listening on'), 20_000);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    for (const u of [ADMIN, BLOCKED]) removeTestUser(u.name);
    removeTestGroup(GROUP.name);
  });

  // The status curl gets as `uid` (setpriv), or as root itself when no uid is given.
  const status = async (uid?: number) => {
    const args = ['-s', '-m', '20', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socket];
    const as = uid === undefined ? undefined : { uid, gid: GROUP.gid };
    return (await run('curl', [...args, 'http://localhost/whoami'], as)).stdout;
  };

  it('refuses every unmapped peer with EOVERFLOW instead of naming it nobody', async () => {
    for (const uid of [ADMIN.uid, BLOCKED.uid, STRANGER_UID])
      expect(await status(uid), `uid ${uid}`).toBe('403');
    // The audit line of a refusal may land after curl has seen the close; count whole rejected lines (a
    // line can name EOVERFLOW more than once, so counting the word could stop one line early).
    const refusals = () =>
      stderr
        .slice(0, stderr.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((l) => l.includes('"decision":"rejected"'))
        .map((l) => JSON.parse(l) as { reason: string; uid: number | null });
    await waitFor(() => refusals().length >= 3);
    expect(refusals()).toHaveLength(3);
    for (const r of refusals()) expect(r.reason).toMatch(/EOVERFLOW.*outside this user namespace/);
    expect(stderr).not.toMatch(/"decision":"(accepted|closed)"/);
  });

  it('a mapped peer (root, uid 0 inside) is still admitted', async () => {
    expect(await status()).toBe('200');
  });
});
