// The swap attack on the private bind directory: an unprivileged user who can write the socket's directory
// exchanges the server's .pa-* directory for a symlink (renameat2 RENAME_EXCHANGE) so that root's chmod or
// unlink lands on a file elsewhere. Real users, a real attacker process, a real victim file.
//
// In every directory the server accepts, no other user can make that swap: a directory owned by root or the
// server's user and writable by no one else admits renames only by them, and in a root-owned sticky
// directory (/tmp) renameat2 refuses to move an entry (even in an exchange) that the caller does not own.
// So the refusal tests below cannot reach the swap, and the re-checks after mkdtemp are tested against the
// only swapper left: a process with the server's own uid (here root, in a root-owned 0755 directory, the
// /run/peerauth layout) racing the server on inotify.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeAsRoot, isLinux, isRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { createPeerServer, type PeerServer } from '../src/index.js';
import { bindSocketFile } from '../src/socket-file.js';
import { makeTempDir, removeDir, silentLogger } from './helpers.js';

const ATTACKER = { name: 'pa12-swap', uid: 44401, gid: 44401 };
const SOURCE = fileURLToPath(new URL('./fixtures/swap-attacker.c', import.meta.url));
const identity = {
  trustDomain: 'example.org',
  fallbackRole: 'guest',
  people: [],
  groupRoles: {},
  userMaps: [],
};

let base: string;
let binary: string;
let attackerDir: string;
let attacker: ChildProcess | undefined;

function startAttacker(target: string, when: 'watch' | 'now'): Promise<ChildProcess> {
  const child = spawn(
    'setpriv',
    ['--reuid', String(ATTACKER.uid), '--regid', String(ATTACKER.gid), '--clear-groups'].concat(
      binary,
      attackerDir,
      target,
      when,
    ),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes(when === 'watch' ? 'watching' : 'swapped')) resolve(child);
    });
    child.once('exit', (code) => {
      if (when === 'now' && out.includes('swapped')) resolve(child);
      else reject(new Error(`attacker exited ${code}: ${out}`));
    });
  });
}

/** A root-owned 0755 directory to serve in, and a root-owned 0644 victim file in another one. */
function safeAndVictim(victimName: string): { safe: string; victimDir: string; victim: string } {
  const safe = path.join(base, 'safe');
  fs.mkdirSync(safe, { mode: 0o755 });
  const victimDir = path.join(base, 'victims');
  fs.mkdirSync(victimDir, { mode: 0o755 });
  const victim = path.join(victimDir, victimName);
  fs.writeFileSync(victim, 'root data\n', { mode: 0o644 });
  fs.chmodSync(victim, 0o644);
  return { safe, victimDir, victim };
}

function listen(server: PeerServer): Promise<(Error & { code?: string }) | null> {
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(() => resolve(null));
  });
}

// The attacker user exists only where the root-on-Linux blocks below run.
beforeAll(() => {
  if (isRoot && isLinux) {
    removeTestUser(ATTACKER.name);
    removeTestGroup(ATTACKER.name);
    createTestGroup(ATTACKER.name, ATTACKER.gid);
    createTestUser(ATTACKER.name, { uid: ATTACKER.uid, gid: ATTACKER.gid });
  }
});

afterAll(() => {
  if (isRoot && isLinux) {
    removeTestUser(ATTACKER.name);
    removeTestGroup(ATTACKER.name);
  }
});

beforeEach(() => {
  base = makeTempDir();
  fs.chmodSync(base, 0o755);
  binary = path.join(base, 'swap-attacker');
  execFileSync('cc', ['-O2', '-o', binary, SOURCE], { stdio: 'pipe' });
  attackerDir = path.join(base, 'x');
  fs.mkdirSync(attackerDir, { mode: 0o755 });
  fs.chownSync(attackerDir, ATTACKER.uid, ATTACKER.gid);
});

afterEach(() => {
  if (attacker && attacker.exitCode === null) attacker.kill('SIGKILL');
  attacker = undefined;
  removeDir(base);
});

describeAsRoot('socket directory writable by another user (root server, swap attack)', () => {
  it('a swap timed on the private directory creation cannot make root chmod a file elsewhere', async () => {
    const victim = path.join(base, 'victim');
    fs.writeFileSync(victim, 'root data\n', { mode: 0o644 });
    fs.chmodSync(victim, 0o644);
    attacker = await startAttacker(victim, 'watch');
    const server = createPeerServer({
      path: path.join(attackerDir, 'app.sock'),
      identity,
      logger: silentLogger,
    });
    const err = await listen(server);
    if (err === null) await new Promise<void>((r) => server.close(() => r()));
    expect(fs.statSync(victim).mode & 0o7777).toBe(0o644);
    expect(err?.code).toBe('PEERAUTH_UNSAFE_SOCKET_DIRECTORY');
    expect(err?.message).toContain(attackerDir);
    expect(err?.message).toContain(`uid ${ATTACKER.uid}`);
    expect(err?.message).toContain('0755');
    // Nothing was created in the attacker's directory.
    expect(fs.readdirSync(attackerDir).filter((n) => n !== 'evil')).toEqual([]);
  });

  it('a swap before stop cannot make root unlink a file elsewhere', async () => {
    const victimDir = path.join(base, 'victims');
    fs.mkdirSync(victimDir, { mode: 0o755 });
    // libuv unlinks "<private dir>/s" when the listening handle closes.
    const victim = path.join(victimDir, 's');
    fs.writeFileSync(victim, 'root data\n', { mode: 0o644 });
    const server = createPeerServer({
      path: path.join(attackerDir, 'app.sock'),
      identity,
      logger: silentLogger,
    });
    const err = await listen(server);
    if (err === null) {
      attacker = await startAttacker(victimDir, 'now');
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(fs.existsSync(victim)).toBe(true);
    expect(err?.code).toBe('PEERAUTH_UNSAFE_SOCKET_DIRECTORY');
  });

  it('in a safe directory: once listening no private directory is left, and a symlink put in its place is never followed at stop', async () => {
    const { safe, victimDir, victim } = safeAndVictim('s');
    const socketPath = path.join(safe, 'app.sock');
    const server = net.createServer();
    let privateDir = '';
    await bindSocketFile(socketPath, 0o660, async (tmp) => {
      privateDir = fs.realpathSync(path.dirname(tmp));
      await new Promise<void>((r) => server.listen(tmp, r));
    });
    expect(fs.readdirSync(safe)).toEqual(['app.sock']);
    // Root (or the server's own user) plants a symlink where the private directory was.
    fs.symlinkSync(victimDir, privateDir);
    await new Promise<void>((r) => server.close(() => r()));
    expect(fs.existsSync(victim)).toBe(true);
  });
});

describeAsRoot("a swap after the checks, by a process of the server's own uid (root)", () => {
  it('fails closed: no chmod or bind through the swapped name, no socket left, a typed error', async () => {
    const { safe, victimDir, victim } = safeAndVictim('data');
    let swaps = 0;
    // The swap lands somewhere between mkdtemp and the end of listen(); a few rounds so it lands at
    // different steps. Every round must fail closed; at least one swap must have happened.
    for (let round = 0; round < 5; round++) {
      const child = spawn(binary, [safe, victimDir, 'watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
      attacker = child;
      let out = '';
      child.stdout?.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      while (!out.includes('watching')) await new Promise((r) => setTimeout(r, 5));
      const socketPath = path.join(safe, 'app.sock');
      const server = createPeerServer({ path: socketPath, identity, logger: silentLogger });
      const err = await listen(server);
      await exited;
      const swapped = out.includes('swapped');
      if (swapped) swaps++;
      if (err === null) await new Promise<void>((r) => server.close(() => r()));
      expect(fs.statSync(victim).mode & 0o7777).toBe(0o644);
      expect(fs.readdirSync(victimDir)).toEqual(['data']);
      if (swapped) {
        expect(err?.code).toBe('PEERAUTH_UNSAFE_SOCKET_DIRECTORY');
        expect(fs.existsSync(socketPath)).toBe(false);
      }
      // Under the names we gave, only the swapper's symlink may be left (never followed, never removed).
      for (const n of fs.readdirSync(safe).filter((e) => e.startsWith('.pa-')))
        expect(fs.lstatSync(path.join(safe, n)).isSymbolicLink()).toBe(true);
      fs.rmSync(path.join(safe, 'app.sock'), { force: true });
      for (const n of fs.readdirSync(safe)) fs.rmSync(path.join(safe, n), { recursive: true, force: true });
    }
    expect(swaps).toBeGreaterThan(0);
  });
});

describeAsRoot('a symlink on the socket path owned by another user (root server)', () => {
  function sharedTmp(): { tmp: string; safe: string } {
    // A root-owned sticky directory like /tmp, and a safe root-owned directory the symlink points to.
    const tmp = path.join(base, 'tmp');
    fs.mkdirSync(tmp);
    fs.chmodSync(tmp, 0o1777);
    const safe = path.join(base, 'safe');
    fs.mkdirSync(safe, { mode: 0o755 });
    return { tmp, safe };
  }

  it('is refused before anything is created: the attacker could re-point it between lstat and unlink', async () => {
    const { tmp, safe } = sharedTmp();
    const link = path.join(tmp, 'link');
    execFileSync('setpriv', [
      '--reuid',
      String(ATTACKER.uid),
      '--regid',
      String(ATTACKER.gid),
      '--clear-groups',
      'ln',
      '-s',
      safe,
      link,
    ]);
    expect(fs.lstatSync(link).uid).toBe(ATTACKER.uid);
    const server = createPeerServer({ path: path.join(link, 'app.sock'), identity, logger: silentLogger });
    const err = await listen(server);
    if (err === null) await new Promise<void>((r) => server.close(() => r()));
    expect(err?.code).toBe('PEERAUTH_UNSAFE_SOCKET_DIRECTORY');
    expect(err?.message).toContain(link);
    expect(err?.message).toContain(`uid ${ATTACKER.uid}`);
    expect(fs.readdirSync(safe)).toEqual([]);
  });

  it('is accepted when root owns it', async () => {
    const { tmp, safe } = sharedTmp();
    const link = path.join(tmp, 'link');
    fs.symlinkSync(safe, link);
    const server = createPeerServer({ path: path.join(link, 'app.sock'), identity, logger: silentLogger });
    expect(await listen(server)).toBeNull();
    expect(fs.readdirSync(safe)).toEqual(['app.sock']);
    await new Promise<void>((r) => server.close(() => r()));
    expect(fs.readdirSync(safe)).toEqual([]);
  });
});
