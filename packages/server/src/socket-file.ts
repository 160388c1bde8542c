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
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { AddressInUseError, UnsafeSocketPathError } from './errors.js';
import type { PeerLogger } from './logger.js';

const PROBE_TIMEOUT_MS = 1_000;
const S_ISVTX = 0o1000;

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
 * Creates the default socket directory 0700, or accepts an existing one only if it is a real directory
 * (not a symlink) owned by us: in a shared /tmp another user could have made it first.
 */
export async function ensurePrivateDirectory(dir: string, logger: PeerLogger): Promise<void> {
  await warnIfParentUnsafe(path.dirname(dir), logger);
  try {
    await fs.mkdir(dir, { mode: 0o700 });
    // mkdir's mode is filtered by the umask; set it exactly.
    await fs.chmod(dir, 0o700);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
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
  if ((st.mode & 0o022) !== 0) {
    logger.warn(
      { dir, mode: formatOctal(st.mode & 0o7777) },
      'peerauth socket directory is writable by group or others; expected 0700',
    );
  }
}

/** A directory anyone can write to without the sticky bit lets other users replace our socket. */
export async function warnIfParentUnsafe(dir: string, logger: PeerLogger): Promise<void> {
  let st: fsSync.Stats;
  try {
    st = await fs.stat(dir);
  } catch {
    return;
  }
  if ((st.mode & 0o002) !== 0 && (st.mode & S_ISVTX) === 0) {
    logger.warn(
      { dir, mode: formatOctal(st.mode & 0o7777) },
      'socket directory is writable by others and has no sticky bit: another user could replace the socket',
    );
  }
}

export function formatOctal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

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
  /** The private directory the socket was bound in; removed once the listening handle is closed. */
  privateDir: string;
}

/**
 * Binds through `listenAt(tmpPath)` inside a private directory, applies `mode`, and moves the socket to
 * `socketPath`, replacing only a stale socket. On failure nothing is left behind except what was there.
 */
export async function bindSocketFile(
  socketPath: string,
  mode: number,
  listenAt: (tmpPath: string) => Promise<void>,
): Promise<BoundSocketFile> {
  let existing = await inspectSocketPath(socketPath);
  const dir = path.dirname(socketPath);
  const privateDir = await fs.mkdtemp(path.join(dir, '.pa-'));
  const tmpPath = path.join(privateDir, 's');
  try {
    await fs.chmod(privateDir, 0o700);
    await listenAt(tmpPath);
    await fs.chmod(tmpPath, mode);
    const tmpStat = await fs.lstat(tmpPath);
    const file = { dev: tmpStat.dev, ino: tmpStat.ino };
    for (let attempt = 0; ; attempt++) {
      if (existing.kind === 'stale') await unlinkIfSame(socketPath, existing.file);
      try {
        await fs.link(tmpPath, socketPath);
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
          break;
        }
        throw err;
      }
    }
    await fs.unlink(tmpPath).catch(() => undefined);
    return { path: socketPath, file, privateDir };
  } catch (err) {
    await fs.rm(privateDir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
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
