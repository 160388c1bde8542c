// Which directories the server may create its socket in, decided before anything is created there.
//
// Why StrictModes (as OpenSSH does for ~/.ssh): the server creates, chmods and later unlinks entries in the
// socket's directory, often as root. Anyone else who can write that directory, or any directory above it,
// can rename those entries under the server's feet (renameat2 RENAME_EXCHANGE swaps a directory for a
// symlink atomically), so root's chmod or unlink lands on a file of the attacker's choosing. Only root and
// the server's own user may be able to write the path; a root-owned sticky directory (/tmp) is fine, since
// there nobody can rename or remove another user's entries.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SocketDirectoryMissingError, SocketPathTooLongError, UnsafeSocketPathError } from './errors.js';

const S_ISVTX = 0o1000;

/** Bytes a socket path may have: sun_path is 108 bytes on Linux, 104 on the BSDs and macOS, NUL included. */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'linux' ? 107 : 103;
}

export function checkSocketPathLength(socketPath: string): void {
  const bytes = Buffer.byteLength(socketPath);
  const limit = maxSocketPathBytes();
  if (bytes > limit) throw new SocketPathTooLongError(socketPath, bytes, limit);
}

export function formatOctal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function serverUid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : 0;
}

function unsafe(dir: string, why: string): UnsafeSocketPathError {
  return new UnsafeSocketPathError(
    dir,
    `${why}. Another user who can write it could swap what the server creates there for a symlink. ` +
      "Use a directory owned by root or by the server's user and writable by no one else (e.g. " +
      '/run/peerauth, mode 0755), or fix this one with chown/chmod',
    'PEERAUTH_UNSAFE_SOCKET_DIRECTORY',
  );
}

/** Why `st` may not hold (or lead to) the server's socket, or null when it is safe. */
function problem(st: { uid: number; mode: number }, uid: number): string | null {
  const mode = formatOctal(st.mode & 0o7777);
  if (st.uid !== uid && st.uid !== 0)
    return `it is owned by uid ${st.uid} (mode ${mode}), not by root or this server (uid ${uid})`;
  if ((st.mode & 0o022) !== 0 && !(st.uid === 0 && (st.mode & S_ISVTX) !== 0))
    return `it is writable by group or others (owner uid ${st.uid}, mode ${mode}) and is not a root-owned sticky directory`;
  return null;
}

const MAX_SYMLINKS = 40;

/**
 * Resolves `dir` one component at a time, as the kernel would, and refuses every symlink met on the way
 * (in the path itself or in a symlink's target) that someone other than root or the server's user owns.
 * Why: the server keeps using the path as given; such a symlink's owner can re-point it at any moment (even
 * in sticky /tmp, where it is theirs), so root's later lstat and unlink would land in a directory of their
 * choosing. A symlink root or we own can only change if root or we change it, and if it stays where it is:
 * so every directory the walk passes through (each one holding the next entry, a symlink or not) passes
 * the same rule as the socket's own directory. A root-owned symlink in another user's directory can be
 * renamed away and swapped (renameat2 RENAME_EXCHANGE) by that user; a directory of theirs walked through
 * on the way out again (`theirs/inner/../..`) likewise.
 */
async function resolveCheckingSymlinks(
  dir: string,
  uid: number,
  holders: Map<string, string>,
): Promise<string> {
  const pending = path.resolve(dir).split('/').filter(Boolean);
  let at = '/';
  let hops = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '.') continue;
    if (name === '..') {
      at = path.dirname(at);
      continue;
    }
    const next = path.join(at, name);
    if (!holders.has(at)) holders.set(at, next);
    const st = await fs.lstat(next);
    if (!st.isSymbolicLink()) {
      at = next;
      continue;
    }
    if (st.uid !== uid && st.uid !== 0)
      throw unsafe(
        dir,
        `the symlink ${next} on its path is owned by uid ${st.uid}, not by root or this server (uid ${uid}), ` +
          'so its owner can re-point it at any time',
      );
    if (++hops > MAX_SYMLINKS) throw unsafe(dir, 'its path has too many levels of symlinks');
    const target = await fs.readlink(next);
    if (path.isAbsolute(target)) at = '/';
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return at;
}

/**
 * Checks the socket's directory, every directory above it, every symlink on the way to it and every
 * directory the way passes through (`holders`: directory → the first entry of the path it holds). Throws
 * SocketDirectoryMissingError when it does not exist and UnsafeSocketPathError (PEERAUTH_UNSAFE_SOCKET_DIRECTORY)
 * when someone other than root or the server's user could change it.
 */
export async function checkSocketDirectory(dir: string): Promise<void> {
  let real: string;
  const holders = new Map<string, string>();
  try {
    real = await resolveCheckingSymlinks(dir, serverUid(), holders);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SocketDirectoryMissingError(dir);
    throw err;
  }
  const st = await fs.stat(real);
  if (!st.isDirectory()) throw unsafe(dir, 'it is not a directory');
  const uid = serverUid();
  const own = problem(st, uid);
  if (own) throw unsafe(dir, own);
  for (let above = path.dirname(real); ; above = path.dirname(above)) {
    const why = problem(await fs.stat(above), uid);
    if (why) throw unsafe(dir, `the directory above it, ${above}, is unsafe: ${why}`);
    holders.delete(above);
    if (above === path.dirname(above)) break;
  }
  // Directories walked through that are not above the socket's own (a symlink's way out again).
  holders.delete(real);
  for (const [holder, entry] of holders) {
    const why = problem(await fs.stat(holder), uid);
    if (why)
      throw unsafe(
        dir,
        `the directory ${holder}, which holds ${entry} on its path, ${why.replace(/^it /, '')}`,
      );
  }
}
