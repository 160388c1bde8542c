// A server inside a user namespace sees peers whose uid or gid is not mapped as the overflow ids
// (/proc/sys/kernel/overflowuid, usually 65534). That is the kernel saying "I cannot tell you", not the
// user nobody: getPeerCredentials refuses it with EOVERFLOW. On the host, nobody is an ordinary peer.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { getPeerCredentials, PeerCredentialsError } from '../src/index.js';
import { listen } from './helpers.js';

const GROUP = { name: 'pa11f-ns-g', gid: 44860 };
const USER = { name: 'pa11f-ns-u', uid: 44850 };
/** The kernel's overflow uid or gid (Linux only: read inside the root-on-Linux block). */
const overflow = (kind: 'uid' | 'gid'): number =>
  Number(readFileSync(`/proc/sys/kernel/overflow${kind}`, 'utf8'));
const CONNECT =
  "const c=require('node:net').connect(process.argv[1]);c.on('error',()=>{});c.on('close',()=>{});c.resume();";

function connectAs(path: string, uid: number, gid: number, groups: number[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [
        '--reuid',
        String(uid),
        '--regid',
        String(gid),
        ...(groups.length > 0 ? ['--groups', groups.join(',')] : ['--clear-groups']),
        '--',
        process.execPath,
        '-e',
        CONNECT,
        path,
      ],
      { timeout: 20_000 },
      (err) => (err ? reject(err) : resolve()),
    );
  });
}

describeAsRoot('peers outside the server user namespace (unshare -U -r)', () => {
  let dir: string;
  let child: ChildProcess;
  let lines: Record<string, unknown>[] = [];
  let socketPath: string;

  beforeAll(async () => {
    removeTestUser(USER.name);
    removeTestGroup(GROUP.name);
    createTestGroup(GROUP.name, GROUP.gid);
    createTestUser(USER.name, { uid: USER.uid, gid: GROUP.gid });
    dir = mkdtempSync(join(tmpdir(), 'pa11-ns-'));
    chmodSync(dir, 0o777);
    socketPath = join(dir, 's.sock');
    child = spawn(
      'unshare',
      ['-U', '-r', process.execPath, join(import.meta.dirname, 'fixtures/userns-peer.mjs'), socketPath],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`userns server exited ${code}`)));
      child.stdout!.on('data', (d) => {
        buffered += d;
        let nl = buffered.indexOf('\n');
        while (nl !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line === 'listening') resolve();
          else lines.push(JSON.parse(line) as Record<string, unknown>);
          nl = buffered.indexOf('\n');
        }
      });
    });
  });

  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    removeTestUser(USER.name);
    removeTestGroup(GROUP.name);
  });

  async function peerSeen(uid: number, gid: number, groups: number[] = []): Promise<Record<string, unknown>> {
    lines = [];
    await connectAs(socketPath, uid, gid, groups);
    const deadline = Date.now() + 10_000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(lines).toHaveLength(1);
    return lines[0]!;
  }

  it('an unmapped real user is refused with EOVERFLOW, not named nobody', async () => {
    expect(await peerSeen(USER.uid, GROUP.gid)).toMatchObject({
      ok: false,
      name: 'PeerCredentialsError',
      code: 'EOVERFLOW',
      message: expect.stringContaining('outside this user namespace'),
    });
  });

  it('a peer with an unmapped gid only is refused too', async () => {
    expect(await peerSeen(0, GROUP.gid)).toMatchObject({ ok: false, code: 'EOVERFLOW' });
  });

  it('a mapped peer (root, mapped to 0) is an ordinary identity', async () => {
    expect(await peerSeen(0, 0)).toEqual({ ok: true, uid: 0, gid: 0, groups: [] });
  });

  it('an unmapped supplementary group is left out of groups, never reported as the overflow gid', async () => {
    // Mapped uid and gid 0 holding the mapped group 0 and an unmapped one: the kernel reports the latter
    // as the overflow gid (nogroup on the host), which names no group of this namespace.
    expect(await peerSeen(0, 0, [0, GROUP.gid])).toEqual({ ok: true, uid: 0, gid: 0, groups: [0] });
  });
});

describeAsRoot('the user nobody on the host', () => {
  it('is an ordinary identity with the overflow uid', async () => {
    const listener = await listen();
    try {
      const accepted = listener.nextConnection();
      const client = connectAs(listener.path, overflow('uid'), overflow('gid'));
      const socket = await accepted;
      const creds = getPeerCredentials(socket);
      expect(creds).toMatchObject({ uid: overflow('uid'), gid: overflow('gid') });
      socket.destroy();
      await client;
    } finally {
      await listener.close();
    }
    expect(PeerCredentialsError).toBeDefined();
  });

  it('keeps the overflow gid (nogroup) as an ordinary supplementary group', async () => {
    const listener = await listen();
    try {
      const accepted = listener.nextConnection();
      const client = connectAs(listener.path, USER.uid, 0, [0, overflow('gid')]);
      const socket = await accepted;
      expect(getPeerCredentials(socket).groups).toEqual([0, overflow('gid')]);
      socket.destroy();
      await client;
    } finally {
      await listener.close();
    }
  });
});
