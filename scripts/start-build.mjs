#!/usr/bin/env node
// The build half of `npm start` (the script then runs `peerauth serve`). The first build compiles the native
// addon and takes about a minute, so say what is happening instead of leaving the terminal silent. Build
// output goes to stderr: stdout is the server's (socket path, curl line).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => console.error(`npm start: ${line}`);

say('building the packages with turbo (the first time, this compiles the native addon: about a minute)');
const build = spawnSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: ['ignore', process.stderr, process.stderr],
});
if (build.status !== 0) {
  say('the build failed; `npm run build` shows its full output');
  process.exit(build.status ?? 1);
}
say('built; starting `peerauth serve` (Ctrl-C stops it)');
