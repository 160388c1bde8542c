// Creating the socket file the way careful daemons do.
//
// Why bind in a private directory and then move the socket into place: a Unix socket is connectable from
// the moment bind() returns, and bind() creates it with 0777 & ~umask. chmod() afterwards leaves a window
// in which the socket is more open than asked, and changing the umask around bind() is process-wide (other
// code creating files at the same time would get the wrong mode) and still depends on the umask for the
// result. Binding inside a fresh 0700 directory (only we can reach it), chmod()ing there, then linking the
// finished socket into the requested path means the path never names a socket with any mode other than the
// requested one, whatever the umask. The private directory is in the same parent so the move is a same-
// filesystem link/rename, never a copy.
//
// Why link() rather than rename(): rename() silently replaces whatever is at the destination. link() fails
// with EEXIST instead, so a file that appears at the path between our checks and the move is never
// clobbered. rename() is used only where the filesystem refuses hard links, after checking the path again.
//
// Why every step after mkdtemp goes through a descriptor of the private directory (/proc/self/fd/N on
// Linux) or re-checks its device and inode: the directory is named by a path in a directory that, however
// carefully checked (socket-directory.ts), could still be changed by root or by our own user. Acting on
// what we created rather than on whatever the name points to now makes a swap fail closed.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { AddressInUseError, UnsafeSocketPathError } from './errors.js';
import { makePrivateDirectory } from './private-dir.js';
import { checkSocketDirectory, checkSocketPathLength, formatOctal } from './socket-directory.js';

const PROBE_TIMEOUT_MS = 1_000;

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** `$XDG_RUNTIME_DIR/peerauth/peerauth.sock`, else `/tmp/peerauth-<uid>/peerauth.sock`. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultSocketDirectory(env), 'peerauth.sock');
}

export function defaultSocketDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, 'peerauth');
  return path.join('/tmp', `peerauth-${currentUid()}`);
}

function currentUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/**
 * Creates the default socket directory 0700, or accepts an existing one only if checkExistingDefaultDirectory
 * does: in a shared /tmp another user could have made it first.
 */
export async function ensurePrivateDirectory(dir: string): Promise<void> {
  await checkSocketDirectory(path.dirname(dir));
  try {
    await fs.mkdir(dir, { mode: 0o700 });
    // mkdir's mode is filtered by the umask; set it exactly.
    await fs.chmod(dir, 0o700);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  await checkExistingDefaultDirectory(dir);
}

/**
 * The server's verdict on the default socket directory without changing anything (what `doctor` reports):
 * 'missing' when the server would create it (its parent checked), 'ok' when it would use it; throws the
 * error the server would throw otherwise.
 */
export async function checkDefaultSocketDirectory(dir: string): Promise<'missing' | 'ok'> {
  await checkSocketDirectory(path.dirname(dir));
  try {
    await fs.lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  await checkExistingDefaultDirectory(dir);
  return 'ok';
}

/** An existing default directory must be a real directory (not a symlink) owned by us, and pass StrictModes. */
async function checkExistingDefaultDirectory(dir: string): Promise<void> {
  const st = await fs.lstat(dir);
  if (st.isSymbolicLink()) throw new UnsafeSocketPathError(dir, 'the socket directory is a symlink');
  if (!st.isDirectory())
    throw new UnsafeSocketPathError(dir, 'the socket directory exists and is not a directory');
  const uid = currentUid();
  if (st.uid !== uid) {
    throw new UnsafeSocketPathError(
      dir,
      `the socket directory is owned by uid ${st.uid}, not by this process (uid ${uid})`,
    );
  }
  // bindSocketFile checks it again; checked here too so that doctor's verdict is the whole of the server's.
  await checkSocketDirectory(dir);
}

export { formatOctal };

export type ExistingPath = { kind: 'free' } | { kind: 'stale'; file: FileIdentity };

/**
 * Looks at what is at `socketPath` without following it. Only a socket nobody answers on may be replaced;
 * anything else is an error and is left exactly as it was.
 */
export async function inspectSocketPath(socketPath: string): Promise<ExistingPath> {
  let st: fsSync.Stats;
  try {
    st = await fs.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'free' };
    throw err;
  }
  if (st.isSymbolicLink())
    throw new UnsafeSocketPathError(socketPath, 'it is a symlink (never followed or removed)');
  if (st.isDirectory()) throw new UnsafeSocketPathError(socketPath, 'it is a directory (never removed)');
  if (st.isFile()) throw new UnsafeSocketPathError(socketPath, 'it is a regular file (never removed)');
  if (!st.isSocket())
    throw new UnsafeSocketPathError(socketPath, 'it exists and is not a socket (never removed)');
  const probe = await probeSocket(socketPath);
  if (probe === 'refused') return { kind: 'stale', file: { dev: st.dev, ino: st.ino } };
  if (probe === 'gone') return { kind: 'free' };
  if (probe === 'live') throw new AddressInUseError(socketPath);
  throw new AddressInUseError(
    socketPath,
    `could not tell whether a server answers on it (${probe}); left alone`,
  );
}

async function probeSocket(socketPath: string): Promise<'live' | 'refused' | 'gone' | string> {
  return new Promise((resolve) => {
    const client = net.connect(socketPath);
    const done = (result: string) => {
      clearTimeout(timer);
      client.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('no answer within 1s'), PROBE_TIMEOUT_MS);
    client.once('connect', () => done('live'));
    client.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('refused');
      else if (err.code === 'ENOENT') done('gone');
      // A full backlog means someone is listening.
      else if (err.code === 'EAGAIN') done('live');
      else done(err.code ?? err.message);
    });
  });
}

export interface BoundSocketFile {
  path: string;
  file: FileIdentity;
  /** The private directory the socket was bound in; removed once the listening handle is closed, or at once on Linux. */
  privateDir: string;
  /** Device and inode of privateDir, so it is removed only if it is still the one we made. */
  privateDirFile: FileIdentity;
  /** Open descriptor of privateDir; the bind path goes through it on Linux. Close after the listener. */
  privateDirFd: number;
  /** True when privateDir was removed right after the move (Linux), so nothing is left to clean up. */
  privateDirRemoved: boolean;
}

const procFd = process.platform === 'linux' && fsSync.existsSync('/proc/self/fd');

function sameFile(st: fsSync.Stats, file: FileIdentity): boolean {
  return st.dev === file.dev && st.ino === file.ino;
}

/** Throws unless `dir` still names the very directory we created (not a symlink, not a swapped one). */
async function assertStillOurs(dir: string, file: FileIdentity): Promise<void> {
  const st = await fs.lstat(dir);
  if (!st.isDirectory() || !sameFile(st, file))
    throw new UnsafeSocketPathError(
      dir,
      'the private bind directory was replaced while in use',
      'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
    );
}

/**
 * Binds through `listenAt(tmpPath)` inside a private directory, applies `mode`, and moves the socket to
 * `socketPath`, replacing only a stale socket. On failure nothing is left behind except what was there;
 * `unlisten` (called before the private directory goes) closes a listener `listenAt` opened.
 */
export async function bindSocketFile(
  socketPath: string,
  mode: number,
  listenAt: (tmpPath: string) => Promise<void>,
  unlisten: () => void = () => {},
): Promise<BoundSocketFile> {
  checkSocketPathLength(socketPath);
  const dir = path.dirname(socketPath);
  await checkSocketDirectory(dir);
  let existing = await inspectSocketPath(socketPath);
  const privateDir = await makePrivateDirectory(dir);
  // A plain descriptor, not a FileHandle: it must stay open until the listener closes, long after this
  // function returns, and a FileHandle would be closed (with a warning) when garbage collected.
  let dirFd = -1;
  let listening = false;
  let linked: FileIdentity | null = null;
  try {
    dirFd = openPrivateDirectory(privateDir);
    const dirStat = fsSync.fstatSync(dirFd);
    const privateDirFile = { dev: dirStat.dev, ino: dirStat.ino };
    const uid = typeof process.geteuid === 'function' ? process.geteuid() : dirStat.uid;
    if (!dirStat.isDirectory() || dirStat.uid !== uid)
      throw new UnsafeSocketPathError(
        privateDir,
        'the private bind directory is not ours',
        'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
      );
    fsSync.fchmodSync(dirFd, 0o700);
    const viaFd = procFd ? `/proc/self/fd/${dirFd}` : privateDir;
    const tmpPath = path.join(viaFd, 's');
    if (!procFd) {
      checkSocketPathLength(tmpPath);
      await assertStillOurs(privateDir, privateDirFile);
    }
    await listenAt(tmpPath);
    listening = true;
    if (!procFd) await assertStillOurs(privateDir, privateDirFile);
    const tmpStat = await fs.lstat(tmpPath);
    if (!tmpStat.isSocket())
      throw new UnsafeSocketPathError(
        tmpPath,
        'the bound socket was replaced',
        'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
      );
    await fs.chmod(tmpPath, mode);
    const file = { dev: tmpStat.dev, ino: tmpStat.ino };
    for (let attempt = 0; ; attempt++) {
      if (existing.kind === 'stale') await unlinkIfSame(socketPath, existing.file);
      if (!procFd) await assertStillOurs(privateDir, privateDirFile);
      try {
        await fs.link(tmpPath, socketPath);
        linked = file;
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && attempt < 3) {
          existing = await inspectSocketPath(socketPath);
          continue;
        }
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') {
          // No hard links here: rename, but only onto a path we have just seen free.
          existing = await inspectSocketPath(socketPath);
          if (existing.kind === 'stale') await unlinkIfSame(socketPath, existing.file);
          await fs.rename(tmpPath, socketPath);
          linked = file;
          break;
        }
        throw err;
      }
    }
    await fs.unlink(tmpPath).catch(() => undefined);
    // Through the descriptor, libuv's unlink of the bind path at close can only reach our directory, even
    // once it is deleted (then it finds nothing). So on Linux it goes now: a process killed without a
    // chance to clean up (SIGKILL, no signal handlers) leaves no empty .pa-* directory behind.
    let privateDirRemoved = false;
    if (procFd) {
      await assertStillOurs(privateDir, privateDirFile);
      await fs.rmdir(privateDir);
      privateDirRemoved = true;
    }
    return { path: socketPath, file, privateDir, privateDirFile, privateDirFd: dirFd, privateDirRemoved };
  } catch (err) {
    // A swap noticed after the move must not leave a socket nobody serves at the path.
    if (linked) unlinkIfSameSync(socketPath, linked);
    if (listening) unlisten();
    if (dirFd >= 0) fsSync.closeSync(dirFd);
    await removePrivateDirectory(privateDir).catch(() => undefined);
    throw err;
  }
}

/** Opens what mkdtemp made; a symlink or non-directory swapped in already is a refusal, not a raw errno. */
function openPrivateDirectory(privateDir: string): number {
  try {
    return fsSync.openSync(
      privateDir,
      fsSync.constants.O_RDONLY | fsSync.constants.O_DIRECTORY | fsSync.constants.O_NOFOLLOW,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT')
      throw new UnsafeSocketPathError(
        privateDir,
        'the private bind directory was replaced before it could be opened',
        'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
      );
    throw err;
  }
}

/** Removes the private directory if it is still a directory; never follows what replaced it. */
async function removePrivateDirectory(privateDir: string): Promise<void> {
  const st = await fs.lstat(privateDir);
  if (st.isDirectory()) await fs.rm(privateDir, { recursive: true, force: true });
}

/**
 * After the listener closed: removes the private directory only if it is still ours and empty, then closes
 * its descriptor. Returns false when it was replaced (and so left alone).
 */
export function releasePrivateDirectory(bound: BoundSocketFile): boolean {
  try {
    if (bound.privateDirRemoved) return true;
    const st = fsSync.lstatSync(bound.privateDir);
    if (!st.isDirectory() || !sameFile(st, bound.privateDirFile)) return false;
    fsSync.rmdirSync(bound.privateDir);
    return true;
  } finally {
    fsSync.closeSync(bound.privateDirFd);
  }
}

/** Unlinks `socketPath` only if it is still the very file we saw (same device and inode). */
export async function unlinkIfSame(socketPath: string, file: FileIdentity): Promise<boolean> {
  try {
    const st = await fs.lstat(socketPath);
    if (st.dev !== file.dev || st.ino !== file.ino) return false;
    await fs.unlink(socketPath);
    return true;
  } catch {
    return false;
  }
}

/** Synchronous variant for close() and signal handlers, so the file is gone before they return. */
export function unlinkIfSameSync(socketPath: string, file: FileIdentity): boolean {
  try {
    const st = fsSync.lstatSync(socketPath);
    if (st.dev !== file.dev || st.ino !== file.ino) return false;
    fsSync.unlinkSync(socketPath);
    return true;
  } catch {
    return false;
  }
}
