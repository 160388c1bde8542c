// The default socket directory, `$XDG_RUNTIME_DIR/peerauth` or `/tmp/peerauth-<uid>`: made 0700 by the server
// when it is missing, and otherwise used only if it is ours. (Not the private bind directory of
// socket-file.ts, which is made fresh inside whatever directory the socket goes in.)
import fs from 'node:fs/promises';
import path from 'node:path';
import { UnsafeSocketPathError } from './errors.js';
import { checkSocketDirectory } from './socket-directory.js';

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
export async function ensureDefaultSocketDirectory(dir: string): Promise<void> {
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
