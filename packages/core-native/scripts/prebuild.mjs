#!/usr/bin/env node
// `npm run build:prebuild`: the stripped N-API binary for prebuilds/<platform>-<arch>/, as the release
// builds it. On Linux the file is tagged with the C library it was built against (`--tag-libc`:
// @peerauth+core-native.glibc.node or .musl.node), so node-gyp-build never loads a glibc binary on musl
// (Alpine gets NativeAddonMissingError with the build commands instead). macOS has one C library: no tag.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// prebuildify keeps node-gyp's headers in $TMPDIR/prebuildify and leaves them there: a directory of our own
// instead, removed afterwards, so a build leaves nothing in the temporary directory.
const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'peerauth-prebuild-'));
const args = [
  'prebuildify',
  '--napi',
  '--strip',
  ...(process.platform === 'linux' ? ['--tag-libc'] : []),
  '--cache',
  cache,
];
console.error(`build:prebuild: npx ${args.join(' ')}`);
let r;
try {
  r = spawnSync('npx', args, { cwd: pkg, stdio: 'inherit' });
} finally {
  fs.rmSync(cache, { recursive: true, force: true });
}
process.exit(r?.status ?? 1);
