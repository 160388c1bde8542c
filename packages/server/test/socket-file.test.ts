import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { AddressInUseError, UnsafeSocketPathError } from '../src/errors.js';
import { checkSocketDirectory } from '../src/socket-directory.js';
import {
  bindSocketFile,
  defaultSocketPath,
  ensureDefaultSocketDirectory,
  unlinkIfSame,
} from '../src/socket-file.js';
import { closeServer, listenOn, makeStaleSocket, makeTempDir, removeDir, tryConnect } from './helpers.js';

let dir: string;
const servers: net.Server[] = [];

beforeEach(() => {
  dir = makeTempDir();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => (s.listening ? closeServer(s) : undefined)));
  removeDir(dir);
});

function bindWith(socketPath: string, mode: number) {
  const server = net.createServer((c) => c.on('error', () => {}).end());
  servers.push(server);
  return bindSocketFile(socketPath, mode, (tmp) => listenOn(server, tmp));
}

function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  return fn().finally(() => process.umask(previous));
}

describe('bindSocketFile', () => {
  it.each([0o660, 0o600, 0o666, 0o777, 0o640])(
    'the socket has exactly mode %o, also under umask 000 and 077',
    async (mode) => {
      for (const mask of [0o000, 0o077, 0o022]) {
        const socketPath = path.join(dir, `m${mask}.sock`);
        const bound = await withUmask(mask, () => bindWith(socketPath, mode));
        const st = fs.lstatSync(socketPath);
        expect(st.isSocket()).toBe(true);
        expect(st.mode & 0o7777).toBe(mode);
        expect(bound.file).toEqual({ dev: st.dev, ino: st.ino });
        expect(await tryConnect(socketPath)).toBe('connected');
      }
    },
  );

  it('binds inside a private 0700 directory in the same parent and leaves only the socket there', async () => {
    const socketPath = path.join(dir, 'p.sock');
    const seen: { mode: number; parent: string }[] = [];
    const server = net.createServer();
    servers.push(server);
    const bound = await bindSocketFile(socketPath, 0o666, async (tmp) => {
      // On Linux the bind path goes through /proc/self/fd/N, the private directory's descriptor.
      const privateDir = fs.realpathSync(path.dirname(tmp));
      const st = fs.statSync(privateDir);
      seen.push({ mode: st.mode & 0o7777, parent: path.dirname(privateDir) });
      await listenOn(server, tmp);
    });
    expect(seen).toEqual([{ mode: 0o700, parent: dir }]);
    // On Linux the private directory goes as soon as the socket is in place; elsewhere it stays, empty.
    if (bound.privateDirRemoved) expect(fs.readdirSync(dir)).toEqual(['p.sock']);
    else expect(fs.readdirSync(bound.privateDir)).toEqual([]);
  });

  it('replaces a stale socket (connect refused)', async () => {
    const socketPath = path.join(dir, 'stale.sock');
    await makeStaleSocket(socketPath);
    expect(await tryConnect(socketPath)).toBe('ECONNREFUSED');
    await bindWith(socketPath, 0o600);
    expect(await tryConnect(socketPath)).toBe('connected');
  });

  it('leaves a live socket alone and reports AddressInUseError', async () => {
    const socketPath = path.join(dir, 'live.sock');
    const other = net.createServer((c) => c.on('error', () => {}).end());
    servers.push(other);
    await listenOn(other, socketPath);
    const before = fs.lstatSync(socketPath);
    const err = await bindWith(socketPath, 0o600).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddressInUseError);
    expect((err as AddressInUseError).code).toBe('PEERAUTH_ADDRESS_IN_USE');
    expect((err as Error).message).toContain(socketPath);
    const after = fs.lstatSync(socketPath);
    expect(after.ino).toBe(before.ino);
    expect(await tryConnect(socketPath)).toBe('connected');
    // Nothing left behind in the parent besides the live socket.
    expect(fs.readdirSync(dir)).toEqual(['live.sock']);
  });

  it('refuses a regular file, a directory and a symlink at the path, and they still exist afterwards', async () => {
    const file = path.join(dir, 'file.sock');
    fs.writeFileSync(file, 'precious');
    const directory = path.join(dir, 'dir.sock');
    fs.mkdirSync(directory);
    fs.writeFileSync(path.join(directory, 'inside'), 'x');
    // A symlink to a stale socket: following it would "replace" the target; it must not be followed.
    const target = path.join(dir, 'target.sock');
    await makeStaleSocket(target);
    const link = path.join(dir, 'link.sock');
    fs.symlinkSync(target, link);
    const dangling = path.join(dir, 'dangling.sock');
    fs.symlinkSync(path.join(dir, 'nowhere'), dangling);

    for (const p of [file, directory, link, dangling]) {
      const err = await bindWith(p, 0o600).catch((e: unknown) => e);
      expect(err, p).toBeInstanceOf(UnsafeSocketPathError);
      expect((err as UnsafeSocketPathError).code).toBe('PEERAUTH_UNSAFE_SOCKET_PATH');
      expect((err as Error).message).toContain(p);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
    expect(fs.readFileSync(path.join(directory, 'inside'), 'utf8')).toBe('x');
    expect(fs.readlinkSync(link)).toBe(target);
    expect(fs.lstatSync(target).isSocket()).toBe(true);
    expect(fs.readlinkSync(dangling)).toBe(path.join(dir, 'nowhere'));
    expect(fs.existsSync(path.join(dir, 'nowhere'))).toBe(false);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'dangling.sock',
      'dir.sock',
      'file.sock',
      'link.sock',
      'target.sock',
    ]);
  });
});

describe('unlinkIfSame', () => {
  it('removes the file only when it is still the same inode', async () => {
    const socketPath = path.join(dir, 'own.sock');
    const bound = await bindWith(socketPath, 0o600);
    // Someone replaced our socket with their own file: it must survive.
    fs.rmSync(socketPath);
    fs.writeFileSync(socketPath, 'theirs');
    expect(await unlinkIfSame(socketPath, bound.file)).toBe(false);
    expect(fs.readFileSync(socketPath, 'utf8')).toBe('theirs');
    fs.rmSync(socketPath);
    const again = await bindWith(socketPath, 0o600);
    expect(await unlinkIfSame(socketPath, again.file)).toBe(true);
    expect(fs.existsSync(socketPath)).toBe(false);
  });
});

describe('default socket path', () => {
  it('uses $XDG_RUNTIME_DIR/peerauth, else /tmp/peerauth-<uid>', () => {
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe(
      '/run/user/1000/peerauth/peerauth.sock',
    );
    expect(defaultSocketPath({})).toBe(`/tmp/peerauth-${process.getuid?.()}/peerauth.sock`);
    // A relative XDG_RUNTIME_DIR is invalid per the spec and ignored.
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: 'relative' })).toBe(
      `/tmp/peerauth-${process.getuid?.()}/peerauth.sock`,
    );
  });

  it('creates the directory 0700 even under umask 000, and accepts it again', async () => {
    const target = path.join(dir, 'peerauth');
    await withUmask(0, () => ensureDefaultSocketDirectory(target));
    expect(fs.statSync(target).mode & 0o7777).toBe(0o700);
    await ensureDefaultSocketDirectory(target);
  });

  it('refuses a symlink or a file where the directory should be', async () => {
    const real = path.join(dir, 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    const link = path.join(dir, 'peerauth');
    fs.symlinkSync(real, link);
    await expect(ensureDefaultSocketDirectory(link)).rejects.toBeInstanceOf(UnsafeSocketPathError);
    expect(fs.readlinkSync(link)).toBe(real);
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    await expect(ensureDefaultSocketDirectory(file)).rejects.toBeInstanceOf(UnsafeSocketPathError);
  });

  it('refuses a directory writable by others without the sticky bit, and a missing one', async () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const err = await checkSocketDirectory(open).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeSocketPathError);
    expect(err).toMatchObject({ code: 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY', path: open });
    expect((err as Error).message).toContain('0777');
    await expect(bindWith(path.join(open, 'a.sock'), 0o660)).rejects.toMatchObject({
      code: 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
    });
    expect(fs.readdirSync(open)).toEqual([]);
    await expect(checkSocketDirectory(path.join(dir, 'missing'))).rejects.toMatchObject({
      code: 'PEERAUTH_SOCKET_DIRECTORY_MISSING',
    });
  });

  it('refuses a path too long for sun_path before creating anything', async () => {
    const long = path.join(dir, `${'x'.repeat(120)}.sock`);
    await expect(bindWith(long, 0o660)).rejects.toMatchObject({ code: 'PEERAUTH_SOCKET_PATH_TOO_LONG' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describeAsRoot('default socket directory ownership (root)', () => {
  it('refuses a directory owned by another user', async () => {
    const theirs = path.join(dir, 'peerauth');
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, 42090, 42090);
    const err = await ensureDefaultSocketDirectory(theirs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeSocketPathError);
    expect((err as Error).message).toContain('uid 42090');
    expect(fs.statSync(theirs).uid).toBe(42090);
  });

  it('accepts a root-owned sticky directory; refuses group-writable, or sticky but owned by another user', async () => {
    const sticky = path.join(dir, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    await checkSocketDirectory(sticky);
    fs.chownSync(sticky, 42090, 42090);
    await expect(checkSocketDirectory(sticky)).rejects.toMatchObject({
      code: 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
    });
    const group = path.join(dir, 'group');
    fs.mkdirSync(group);
    fs.chmodSync(group, 0o775);
    await expect(checkSocketDirectory(group)).rejects.toMatchObject({
      code: 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
    });
    // Below an unsafe directory, a safe-looking one is refused too: its parent's owner could swap it.
    const inner = path.join(sticky, 'inner');
    fs.mkdirSync(inner, { mode: 0o755 });
    await expect(checkSocketDirectory(inner)).rejects.toThrow(/directory above it/);
  });
});
