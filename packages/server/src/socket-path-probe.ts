// What is at a socket path now, found without following it, and removing it only while it is still the very
// file that was seen: a stale socket may be replaced, anything else (a live server, a file, a symlink) not.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import { AddressInUseError, UnsafeSocketPathError } from './errors.js';

const PROBE_TIMEOUT_MS = 1_000;

export interface FileIdentity {
  dev: number;
  ino: number;
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
