// Fixtures that tests run as other users must be readable by them, and a checkout may sit in a directory
// only its owner can enter (a clone under /root is 0700). So such fixtures run from a copy in a fresh
// temporary directory that every user can read; the copy is made once per file and process.
import { chmodSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { removeAfterFile } from './cleanup.js';

const copies = new Map<string, string>();
let dir: string | undefined;

/** Path of a world-readable copy of `file` (a self-contained script: its relative imports are not copied). */
export function readableCopy(file: string): string {
  const known = copies.get(file);
  if (known) return known;
  if (!dir) {
    dir = removeAfterFile(mkdtempSync(join(tmpdir(), 'peerauth-fixtures-')));
    chmodSync(dir, 0o755);
  }
  const copy = join(dir, `${copies.size}-${basename(file)}`);
  copyFileSync(file, copy);
  chmodSync(copy, 0o644);
  copies.set(file, copy);
  return copy;
}
