// The worker pool against the real user database (getent, id -G) and real processes.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isLinux, isRoot } from '../../../test-fixtures/root.js';
import { runCommand } from '../../../test-fixtures/run.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  uidIsFree,
} from '../../../test-fixtures/users.js';
import {
  type CredentialPool,
  ExecutableTooLargeError,
  getPeerCredentials,
  LookupFailedError,
  openPeerPidfd,
  PeerAuthTypeError,
  PeerProcessExitedError,
  PoolClosedError,
  platformSupport,
  WorkerCrashedError,
} from '../src/index.js';
import { Pool } from '../src/pool.js';
import {
  createSteppingPool,
  createTestPool,
  killAndWait,
  listen,
  sh,
  spawnClient,
  withLockRetry,
} from './helpers.js';

function getent(db: 'passwd' | 'group', key: string): string[] | null {
  try {
    return sh('getent', [db, key]).trim().split(':');
  } catch {
    return null;
  }
}

function passwdEntry(key: string) {
  const f = getent('passwd', key);
  if (!f) return null;
  return { uid: Number(f[2]), gid: Number(f[3]), name: f[0], home: f[5], shell: f[6] };
}

function groupEntry(key: string) {
  const f = getent('group', key);
  if (!f) return null;
  return { gid: Number(f[2]), name: f[0], members: f[3] ? f[3].split(',') : [] };
}

function idGroups(name: string): number[] {
  return sh('id', ['-G', name]).trim().split(/\s+/).map(Number);
}

// This file's slice of the pacn range: groups 41040-41042, user 41050.
const GROUPS = [
  { name: 'pacn_pool_g1', gid: 41040 },
  { name: 'pacn_pool_g2', gid: 41041 },
  { name: 'pacn_pool_g3', gid: 41042 },
];
const USER = { name: 'pacn_pool_u1', uid: 41050, gid: 41040 };
// Home directory bytes that are not valid UTF-8: the lookup must decode them, not throw.
const ODD_USER = { name: 'pacn_pool_u2', uid: 41051 };
// Entries larger than the first buffer (sysconf says 1024 bytes on glibc), to exercise the ERANGE
// growth: a user with a 1500-byte home, and a group with 32 members of 31-character names.
const LONG_USER = { name: 'pacn_pool_u3', uid: 41052, home: `/home/${'d'.repeat(1500)}` };
const BIG_GROUP = { name: 'pacn_pool_big', gid: 41043 };
const MEMBERS = Array.from({ length: 32 }, (_, i) => ({
  name: `pacn_mem_${String(i).padStart(2, '0')}_`.padEnd(31, 'x'),
  uid: 41060 + i,
}));
const canCreateUsers = isRoot && isLinux;

function cleanup(): void {
  for (const m of MEMBERS) withLockRetry(() => removeTestUser(m.name));
  withLockRetry(() => removeTestUser(LONG_USER.name));
  withLockRetry(() => removeTestGroup(BIG_GROUP.name));
  withLockRetry(() => removeTestUser(ODD_USER.name));
  withLockRetry(() => removeTestUser(USER.name));
  for (const g of GROUPS) withLockRetry(() => removeTestGroup(g.name));
}

let pool: CredentialPool;

beforeAll(() => {
  if (canCreateUsers) {
    cleanup();
    for (const g of GROUPS) withLockRetry(() => createTestGroup(g.name, g.gid));
    withLockRetry(() =>
      createTestUser(USER.name, {
        uid: USER.uid,
        gid: USER.gid,
        supplementary: ['pacn_pool_g2', 'pacn_pool_g3'],
      }),
    );
    // Node passes argv strings as UTF-8, so the raw bytes come from printf in a shell.
    withLockRetry(() =>
      execFileSync(
        'sh',
        [
          '-c',
          `useradd -M -N -s /usr/sbin/nologin -u ${ODD_USER.uid} -g ${USER.gid} -d "$(printf '/home/caf\\303\\251-\\377\\376')" ${ODD_USER.name}`,
        ],
        { stdio: 'pipe' },
      ),
    );
    withLockRetry(() =>
      execFileSync(
        'useradd',
        [
          '-M',
          '-N',
          '-u',
          String(LONG_USER.uid),
          '-g',
          String(USER.gid),
          '-d',
          LONG_USER.home,
          LONG_USER.name,
        ],
        {
          stdio: 'pipe',
        },
      ),
    );
    withLockRetry(() => createTestGroup(BIG_GROUP.name, BIG_GROUP.gid));
    for (const m of MEMBERS) {
      withLockRetry(() =>
        execFileSync(
          'useradd',
          ['-M', '-N', '-u', String(m.uid), '-g', String(USER.gid), '-G', BIG_GROUP.name, m.name],
          {
            stdio: 'pipe',
          },
        ),
      );
    }
  } else {
    console.warn('[peerauth tests] pool: not root on Linux, the created-user cases are skipped');
  }
  pool = createTestPool({ threads: 2 });
});

afterAll(async () => {
  await pool?.close();
  if (canCreateUsers) cleanup();
});

const users = ['root', 'nobody', 'daemon', ...(canCreateUsers ? [USER.name] : [])];

if (!isLinux) console.warn('[peerauth tests] pool: getent/sha256sum comparisons run on Linux only');

// getent and id -G are the ground truth here, with glibc's NSS: Linux only.
describe.runIf(isLinux)('users and groups match getent and id -G', () => {
  it.each(users)('lookupUser / lookupUserByName: %s', async (name) => {
    const expected = passwdEntry(name);
    expect(expected).not.toBeNull();
    expect(await pool.lookupUser(expected!.uid)).toEqual(expected);
    expect(await pool.lookupUserByName(name)).toEqual(expected);
  });

  it.each(users)('userGroups: %s', async (name) => {
    const entry = passwdEntry(name)!;
    const groups = await pool.userGroups(name, entry.gid);
    expect([...groups].sort((a, b) => a - b)).toEqual([...idGroups(name)].sort((a, b) => a - b));
  });

  it.runIf(canCreateUsers)('the created user has uid != gid and its supplementary groups', async () => {
    expect(await pool.lookupUser(USER.uid)).toMatchObject({ uid: 41050, gid: 41040, name: USER.name });
    expect([...(await pool.userGroups(USER.name, USER.gid))].sort()).toEqual([41040, 41041, 41042]);
  });

  it.each(users)('userGroupNames: %s, the gids of userGroups named as getent names them', async (name) => {
    const entry = passwdEntry(name)!;
    const named = await pool.userGroupNames(name, entry.gid);
    const gids = [...new Set(await pool.userGroups(name, entry.gid))];
    expect(named.map((g) => g.gid)).toEqual(gids);
    for (const g of named) expect(g.name).toBe(getent('group', String(g.gid))?.[0] ?? null);
  });

  it.runIf(canCreateUsers)('userGroupNames: the created user, in one call', async () => {
    const named = await pool.userGroupNames(USER.name, USER.gid);
    expect([...named].sort((a, b) => a.gid - b.gid)).toEqual(
      GROUPS.map((g) => ({ gid: g.gid, name: g.name })),
    );
  });

  const groups = ['root', 'daemon', 'nogroup', ...(canCreateUsers ? GROUPS.map((g) => g.name) : [])];
  it.each(groups)('lookupGroup: %s', async (name) => {
    const expected = groupEntry(name);
    expect(expected).not.toBeNull();
    expect(await pool.lookupGroup(expected!.gid)).toEqual(expected);
  });

  // Creates users with useradd: root on Linux.
  it.runIf(canCreateUsers)(
    'strings that are not valid UTF-8 are decoded with U+FFFD, not an error',
    async () => {
      const raw = execFileSync('getent', ['passwd', ODD_USER.name]);
      expect(raw.includes(Buffer.from([0xff, 0xfe]))).toBe(true);
      const entry = await pool.lookupUser(ODD_USER.uid);
      expect(entry).toMatchObject({
        uid: ODD_USER.uid,
        name: ODD_USER.name,
        home: '/home/caf\u00e9-\ufffd\ufffd',
      });
      expect(await pool.lookupUserByName(ODD_USER.name)).toEqual(entry);
    },
  );

  // Creates users with useradd: root on Linux.
  it.runIf(canCreateUsers)('entries larger than the first buffer are read whole', async () => {
    expect(sh('getent', ['passwd', LONG_USER.name]).length).toBeGreaterThan(1024);
    expect(await pool.lookupUser(LONG_USER.uid)).toEqual(passwdEntry(LONG_USER.name));
    expect((await pool.lookupUserByName(LONG_USER.name))?.home).toBe(LONG_USER.home);
    expect(sh('getent', ['group', BIG_GROUP.name]).length).toBeGreaterThan(1024);
    const group = await pool.lookupGroup(BIG_GROUP.gid);
    expect(group).toEqual(groupEntry(BIG_GROUP.name));
    expect(group?.members).toEqual(MEMBERS.map((m) => m.name));
  });

  it.runIf(canCreateUsers)('group members come back as names', async () => {
    expect(await pool.lookupGroup(41041)).toEqual({ gid: 41041, name: 'pacn_pool_g2', members: [USER.name] });
  });

  it('no entry is null, not an error', async () => {
    const freeUid = [41099, 41098, 41097].find((u) => uidIsFree(u))!;
    expect(freeUid).toBeDefined();
    expect(await pool.lookupUser(freeUid)).toBeNull();
    expect(getent('group', '41099')).toBeNull();
    expect(await pool.lookupGroup(41099)).toBeNull();
    expect(await pool.lookupUserByName('pacn_no_such_user')).toBeNull();
  });

  it('bad arguments reject with TypeError', async () => {
    await expect(pool.lookupUser(-1)).rejects.toThrow(TypeError);
    await expect(pool.lookupGroup(1.5)).rejects.toThrow(TypeError);
    await expect(pool.lookupUserByName('')).rejects.toThrow(TypeError);
    await expect(pool.userGroups('root', 2 ** 32)).rejects.toThrow(TypeError);
    await expect(pool.userGroupNames('', 0)).rejects.toThrow(TypeError);
    await expect(pool.processInfo({ pid: 0 })).rejects.toThrow(TypeError);
    await expect(pool.lookupUser(-1)).rejects.toMatchObject({ code: 'PEERAUTH_INVALID_ARGUMENT' });
    await expect(pool.processInfo({ pid: 0 })).rejects.toBeInstanceOf(PeerAuthTypeError);
  });
});

describe.runIf(isLinux)('processInfo', () => {
  function spawnLong(cmd: string, args: string[]) {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    return child;
  }

  it('a node child: realpath of process.execPath, sha256 equals sha256sum', async () => {
    const child = spawnLong(process.execPath, ['-e', 'setInterval(() => {}, 1e6)']);
    try {
      await new Promise((r) => child.once('spawn', r));
      // Wait until the exec has happened (the exe link points at node, not the forked parent).
      const exe = realpathSync(process.execPath);
      const info = await pool.processInfo({ pid: child.pid! }, { sha256: true, maxBytes: 512 * 1024 * 1024 });
      expect(info.pid).toBe(child.pid);
      expect(info.exePath).toBe(exe);
      expect(info.sha256).toBe(sh('sha256sum', [exe]).split(' ')[0]);
    } finally {
      await killAndWait(child);
    }
  });

  it('sleep: /usr/bin/sleep and its sha256', async () => {
    const child = spawnLong('sleep', ['30']);
    try {
      await new Promise((r) => child.once('spawn', r));
      const exe = realpathSync(sh('sh', ['-c', 'command -v sleep']).trim());
      const info = await pool.processInfo({ pid: child.pid! }, { sha256: true });
      expect(info).toEqual({ pid: child.pid, exePath: exe, sha256: sh('sha256sum', [exe]).split(' ')[0] });
      if (process.platform === 'linux') expect(info.exePath).toBe('/usr/bin/sleep');
      const noHash = await pool.processInfo({ pid: child.pid! });
      expect(noHash).toEqual({ pid: child.pid, exePath: exe });
    } finally {
      await killAndWait(child);
    }
  });

  it('an executable larger than maxBytes is refused, never hashed by prefix', async () => {
    const child = spawnLong('sleep', ['30']);
    try {
      await new Promise((r) => child.once('spawn', r));
      const err = await pool
        .processInfo({ pid: child.pid! }, { sha256: true, maxBytes: 1024 })
        .catch((e) => e);
      expect(err).toBeInstanceOf(ExecutableTooLargeError);
      expect(err.code).toBe('PEERAUTH_EXECUTABLE_TOO_LARGE');
      expect(err.message).toMatch(/sleep/);
      // The default limit (64 MiB) is also enforced: node is bigger than that on this machine.
      const nodeSize = (await import('node:fs')).statSync(realpathSync(process.execPath)).size;
      if (nodeSize > 64 * 1024 * 1024) {
        const node = spawnLong(process.execPath, ['-e', 'setInterval(() => {}, 1e6)']);
        try {
          await new Promise((r) => node.once('spawn', r));
          await expect(pool.processInfo({ pid: node.pid! }, { sha256: true })).rejects.toBeInstanceOf(
            ExecutableTooLargeError,
          );
        } finally {
          await killAndWait(node);
        }
      }
    } finally {
      await killAndWait(child);
    }
  });

  it('a process that has exited -> PeerProcessExitedError', async () => {
    const child = spawnLong('true', []);
    await new Promise((r) => child.once('exit', r));
    const err = await pool.processInfo({ pid: child.pid! }).catch((e) => e);
    expect(err).toBeInstanceOf(PeerProcessExitedError);
    expect(err.code).toBe('PEERAUTH_PEER_PROCESS_EXITED');
  });
});

// SO_PEERPIDFD is Linux's (kernel >= 6.5); pidfds are recognised through /proc.
describe.runIf(platformSupport().pidfd)('pidfd ownership', () => {
  it('processInfo closes the pidfd it was given, on success and on failure', async () => {
    const listener = await listen();
    const accepted = listener.nextConnection();
    const { child, connected } = spawnClient(listener.path);
    try {
      await connected;
      const socket = await accepted;
      const pid = getPeerCredentials(socket).pid!;
      expect(pid).toBe(child.pid);
      const fd = openPeerPidfd(socket)!;
      const fd2 = openPeerPidfd(socket)!;
      const fd3 = openPeerPidfd(socket)!;
      expect(isPidfd(fd) && isPidfd(fd2) && isPidfd(fd3)).toBe(true);

      // A pidfd of another process than the pid given is refused, not trusted.
      const mismatch = await pool.processInfo({ pid: process.pid, pidfd: fd3 }).catch((e) => e);
      expect(mismatch).toBeInstanceOf(LookupFailedError);
      expect(mismatch.message).toMatch(new RegExp(`refers to pid ${pid}`));
      expect(isPidfd(fd3)).toBe(false);

      expect(await pool.processInfo({ pid, pidfd: fd })).toEqual({
        pid,
        exePath: realpathSync(process.execPath),
      });
      expect(isPidfd(fd)).toBe(false);

      await killAndWait(child);
      await expect(pool.processInfo({ pid, pidfd: fd2 })).rejects.toBeInstanceOf(PeerProcessExitedError);
      expect(isPidfd(fd2)).toBe(false);
    } finally {
      await killAndWait(child);
      await listener.close();
    }
  });

  it('the peer exiting between reading its executable and the pidfd check -> PeerProcessExitedError', async () => {
    // The stepping worker pauses after the read until the gate opens; the peer is killed meanwhile.
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const gated = createSteppingPool({ threads: 1 }, { gate });
    const listener = await listen();
    const accepted = listener.nextConnection();
    const { child, connected } = spawnClient(listener.path);
    try {
      await connected;
      const socket = await accepted;
      const pid = getPeerCredentials(socket).pid!;
      const pending = gated.processInfo({ pid, pidfd: openPeerPidfd(socket) }).catch((e) => e);
      await vi.waitFor(() => expect(Atomics.load(gate, 1)).toBe(1), { timeout: 5000 });
      await killAndWait(child);
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      const err = (await pending) as Error;
      expect(err).toBeInstanceOf(PeerProcessExitedError);
      expect(err.message).toMatch(/pidfd reports the process is gone/);
    } finally {
      await killAndWait(child);
      await listener.close();
      await gated.close();
    }
  });

  it('a closed pool still takes ownership of the pidfd', async () => {
    const p = createTestPool({ threads: 1 });
    await p.close();
    const listener = await listen();
    const accepted = listener.nextConnection();
    const { child, connected } = spawnClient(listener.path);
    try {
      await connected;
      const fd = openPeerPidfd(await accepted)!;
      await expect(p.processInfo({ pid: child.pid!, pidfd: fd })).rejects.toBeInstanceOf(PoolClosedError);
      expect(isPidfd(fd)).toBe(false);
    } finally {
      await killAndWait(child);
      await listener.close();
    }
  });
});

function isPidfd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).includes('pidfd');
  } catch {
    return false;
  }
}

describe('close', () => {
  it('calls after close reject with PoolClosedError; close is idempotent', async () => {
    const p = createTestPool({ threads: 1 });
    expect(await p.lookupUser(0)).toMatchObject({ name: 'root' });
    await p.close();
    await p.close();
    await expect(p.lookupUser(0)).rejects.toBeInstanceOf(PoolClosedError);
    await expect(p.userGroups('root', 0)).rejects.toMatchObject({ code: 'PEERAUTH_POOL_CLOSED' });
  });
});

describe('worker start-up', () => {
  // Node 20 aborts the process when a worker is terminated inside a synchronous require() of an ES module
  // (v8::Module::IsGraphAsync on a half-instantiated module). Piscina require()s its worker file first, so
  // the pool must hand it a CommonJS loader that import()s the ES module worker.
  it('worker threads load the pool worker without require(esm), and pools closed mid-start leave the process alive', async () => {
    const trace = fileURLToPath(new URL('./fixtures/trace-require-esm.cjs', import.meta.url));
    const child = fileURLToPath(new URL('./fixtures/pool-start-close.mjs', import.meta.url));
    const result = await runCommand(process.execPath, ['--require', trace, child, '20'], {
      timeoutMs: 60_000,
    });
    expect(result.stderr).not.toMatch(/require\(esm\)/);
    expect(result.signal).toBeNull();
    expect(result.stdout.trim()).toBe('done');
    expect(result.code).toBe(0);
  });

  it('the require(esm) trace sees an ES module loaded through require() (the check above can fail)', async () => {
    const trace = fileURLToPath(new URL('./fixtures/trace-require-esm.cjs', import.meta.url));
    const worker = fileURLToPath(new URL('../dist/worker.js', import.meta.url));
    const result = await runCommand(process.execPath, [
      '--require',
      trace,
      '-e',
      `require(${JSON.stringify(worker)})`,
    ]);
    expect(result.stderr).toMatch(/require\(esm\) in the main thread: .*worker\.js/);
  });

  // A worker whose module failed to load (EMFILE while the process was out of descriptors, say) must not
  // stay in the pool refusing every later call with that old reason: the pool replaces it.
  it('a worker whose module failed to load is replaced: calls succeed once the module can load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pa-load-'));
    try {
      const file = join(dir, 'worker.mjs');
      writeFileSync(
        file,
        "import { answer } from './dep.mjs';\nexport default () => ({ ok: true, value: answer });\n",
      );
      const p = new Pool({ threads: 2 }, { file });
      try {
        const first = await p.run('answer', {}).catch((e: unknown) => e);
        expect(first).toBeInstanceOf(WorkerCrashedError);
        expect(String((first as Error).message)).toContain('dep.mjs');
        writeFileSync(join(dir, 'dep.mjs'), 'export const answer = 42;\n');
        // The failed workers are refused calls until they have left; then fresh ones load the module.
        const results: unknown[] = [];
        for (let i = 0; i < 200 && results.at(-1) !== 42; i++) {
          results.push(await p.run('answer', {}).catch((e: unknown) => (e as Error).message));
          if (results.at(-1) !== 42) await new Promise((r) => setTimeout(r, 25));
        }
        expect(results.at(-1)).toBe(42);
      } finally {
        await p.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
