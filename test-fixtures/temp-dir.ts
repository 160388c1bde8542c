// Temporary directories for sockets and files the tests make. Short names under os.tmpdir() keep socket
// paths under the sun_path limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeAfterFile } from './cleanup.js';

/** A fresh directory; `mode` (e.g. 0o755, so clients running as other users reach its sockets) is set exactly. */
export function tempDir(prefix: string, options: { mode?: number } = {}): string {
  // Removed after the test file even when a failing test never reaches its own removal.
  const dir = removeAfterFile(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  if (options.mode !== undefined) fs.chmodSync(dir, options.mode);
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
