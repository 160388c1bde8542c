// Creating the socket file the way careful daemons do (the default directory it goes in:
// default-socket-directory.ts; what is at the path before: socket-path-probe.ts).
//
// Why bind in a private bind directory (.pa-XXXXXX) and then move the socket into place: a Unix socket is
// connectable from the moment bind() returns, and bind() creates it with 0777 & ~umask. chmod() afterwards leaves a window
// in which the socket is more open than asked, and changing the umask around bind() is process-wide (other
// code creating files at the same time would get the wrong mode) and still depends on the umask for the
// result. Binding inside a fresh 0700 directory (only we can reach it), chmod()ing there, then linking the
// finished socket into the requested path means the path never names a socket with any mode other than the
// requested one, whatever the umask. The bind directory is in the same parent so the move is a same-
// filesystem link/rename, never a copy.
//
// Why link() rather than rename(): rename() silently replaces whatever is at the destination. link() fails
// with EEXIST instead, so a file that appears at the path between our checks and the move is never
// clobbered. rename() is used only where the filesystem refuses hard links, after checking the path again.
//
// Why every step after mkdtemp goes through a descriptor of the bind directory (/proc/self/fd/N on
// Linux) or re-checks its device and inode: the directory is named by a path in a directory that, however
// carefully checked (socket-directory.ts), could still be changed by root or by our own user. Acting on
// what we created rather than on whatever the name points to now makes a swap fail closed.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UnsafeSocketPathError } from './errors.js';
import { makeBindDirectory } from './private-dir.js';
import { checkSocketDirectory, checkSocketPathLength, formatOctal } from './socket-directory.js';
import { type FileIdentity, inspectSocketPath, unlinkIfSame, unlinkIfSameSync } from './socket-path-probe.js';

// The default directory and the path probe live in modules of their own; what imported them from here still can.
export {
  checkDefaultSocketDirectory,
  defaultSocketDirectory,
  defaultSocketPath,
  ensureDefaultSocketDirectory,
} from './default-socket-directory.js';
export {
  type ExistingPath,
  type FileIdentity,
  inspectSocketPath,
  unlinkIfSame,
  unlinkIfSameSync,
} from './socket-path-probe.js';

export { formatOctal };

export interface BoundSocketFile {
  path: string;
  file: FileIdentity;
  /** The private bind directory the socket was bound in; removed once the listening handle is closed, or at once on Linux. */
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
 * Binds through `listenAt(tmpPath)` inside a private bind directory, applies `mode`, and moves the socket to
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
  const privateDir = await makeBindDirectory(dir);
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
      await removeOurBindDirectory(privateDir);
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

/**
 * rmdir of the bind directory just checked as ours. A swap can still land between that check and the rmdir:
 * rmdir never follows a symlink (ENOTDIR) and never removes a non-empty directory (ENOTEMPTY), so such a
 * swap is a refusal with the swap's own error, not a raw errno.
 */
async function removeOurBindDirectory(privateDir: string): Promise<void> {
  try {
    await fs.rmdir(privateDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'ENOTEMPTY' || code === 'ENOENT')
      throw new UnsafeSocketPathError(
        privateDir,
        'the private bind directory was replaced while in use',
        'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
      );
    throw err;
  }
}

/** Removes the private bind directory if it is still a directory; never follows what replaced it. */
async function removePrivateDirectory(privateDir: string): Promise<void> {
  const st = await fs.lstat(privateDir);
  if (st.isDirectory()) await fs.rm(privateDir, { recursive: true, force: true });
}

/**
 * After the listener closed: removes the private bind directory only if it is still ours and empty, then closes
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
