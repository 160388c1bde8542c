// What a test file leaves behind is removed after it, whether its tests passed, failed or timed out
// (a test that times out never reaches its own `finally`). Importing this module registers an afterAll
// in the importing test file (through tempDir(), the NSS fault library, the readable fixture copies and
// the CLI's startCli): the temporary directories and child processes registered here go then.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll } from 'vitest';

const dirs = new Set<string>();
const children = new Set<ChildProcess>();

/** Removes `dir` after the test file, unless the test removed it first. */
export function removeAfterFile(dir: string): string {
  dirs.add(dir);
  return dir;
}

/** Kills `child` (SIGKILL) after the test file if it is still running. */
export function killAfterFile<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function cleanUp(): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((c) => new Promise((resolve) => c.once('exit', resolve))));
  children.clear();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

afterAll(cleanUp);
