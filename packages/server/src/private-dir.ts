// The first entry the server creates in the socket's directory is its private bind directory (.pa-XXXXXX).
// Creating it is what decides whether the directory is writable for the server, so `peerauth doctor` asks
// the same question the same way: create one, then remove it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SocketDirectoryNotWritableError } from './errors.js';

/** Creates a fresh private bind directory in `dir`; a failure names `dir`, not the name that was tried. */
export async function makeBindDirectory(dir: string): Promise<string> {
  try {
    return await fs.mkdtemp(path.join(dir, '.pa-'));
  } catch (err) {
    throw new SocketDirectoryNotWritableError(dir, (err as NodeJS.ErrnoException).code);
  }
}

/** What the server will do first in `dir`, tried and undone: throws SocketDirectoryNotWritableError. */
export async function checkSocketDirectoryWritable(dir: string): Promise<void> {
  await fs.rmdir(await makeBindDirectory(dir));
}
