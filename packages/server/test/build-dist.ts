// Child-process tests run the compiled package (plain node cannot load src/*.ts). `npm test` builds first
// (turbo), but a direct `npx vitest run` after editing src must not test stale output.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

export function ensureDist(): string {
  const entry = path.join(pkg, 'dist', 'index.js');
  const built = fs.existsSync(entry) ? fs.statSync(entry).mtimeMs : 0;
  if (built < newestMtime(path.join(pkg, 'src'))) {
    execFileSync(process.execPath, [tscBin(), '-p', 'tsconfig.build.json'], { cwd: pkg, stdio: 'inherit' });
  }
  return entry;
}

function tscBin(): string {
  return path.join(pkg, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
}
