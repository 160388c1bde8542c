#!/usr/bin/env node
// `npm run build:prebuild`: the stripped N-API binary for prebuilds/<platform>-<arch>/, as the release
// builds it. On Linux the file is tagged with the C library it was built against (`--tag-libc`:
// @peerauth+core-native.glibc.node or .musl.node), so node-gyp-build never loads a glibc binary on musl
// (Alpine gets NativeAddonMissingError with the build commands instead). macOS has one C library: no tag.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = ['prebuildify', '--napi', '--strip', ...(process.platform === 'linux' ? ['--tag-libc'] : [])];
console.error(`build:prebuild: npx ${args.join(' ')}`);
const r = spawnSync('npx', args, { cwd: pkg, stdio: 'inherit' });
process.exit(r.status ?? 1);
