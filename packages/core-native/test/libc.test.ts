// Prebuilds are tagged by C library: on musl (Alpine) the glibc binary must not load; the caller gets
// NativeAddonMissingError with the commands that build one instead. Simulated through node-gyp-build's own
// LIBC override, against a copy of the package that has only a glibc-tagged prebuild (no build/).
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { tempDir } from '../../../test-fixtures/temp-dir.js';
import { prebuildLibc } from '../src/build-from-source.js';
import { addonOrigin } from '../src/index.js';

const pkg = join(import.meta.dirname, '..');
const repo = join(pkg, '../..');

describe('prebuildLibc', () => {
  it('follows node-gyp-build: LIBC first, else musl where /etc/alpine-release exists; null off Linux', () => {
    expect(prebuildLibc('linux', {}, () => false)).toBe('glibc');
    expect(prebuildLibc('linux', {}, () => true)).toBe('musl');
    expect(prebuildLibc('linux', { LIBC: 'musl' }, () => false)).toBe('musl');
    expect(prebuildLibc('linux', { LIBC: 'glibc' }, () => true)).toBe('glibc');
    expect(prebuildLibc('darwin', { LIBC: 'musl' }, () => true)).toBeNull();
  });
});

// libc tags exist only for Linux prebuilds (macOS has one C library).
describe.skipIf(!isLinux)('a glibc-tagged prebuild on musl', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('pa-libc-');
    const copy = join(dir, 'core-native');
    mkdirSync(copy);
    copyFileSync(join(pkg, 'package.json'), join(copy, 'package.json'));
    cpSync(join(pkg, 'dist'), join(copy, 'dist'), { recursive: true });
    const target = join(copy, 'prebuilds', `linux-${process.arch}`);
    mkdirSync(target, { recursive: true });
    // The binary this process loaded: the local build, or the prebuild when build/ is gone (the release).
    copyFileSync(addonOrigin().path, join(target, '@peerauth+core-native.glibc.node'));
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const load = (env: NodeJS.ProcessEnv) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(join(dir, 'core-native/dist/index.js'))});
try { console.log(JSON.stringify({ origin: m.addonOrigin() })); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, commands: e.buildCommands })); }`,
        ],
        { env: { ...process.env, ...env }, encoding: 'utf8' },
      ),
    );

  it('glibc: the tagged prebuild loads', () => {
    expect(load({ LIBC: 'glibc' }).origin).toMatchObject({ source: 'prebuild' });
  });

  it('musl: NativeAddonMissingError naming the target and libc, with the build commands', () => {
    const r = load({ LIBC: 'musl' });
    expect(r.code).toBe('PEERAUTH_NATIVE_ADDON_MISSING');
    expect(r.message).toContain(`linux-${process.arch} (musl)`);
    expect(r.commands.length).toBeGreaterThan(0);
    for (const c of r.commands) expect(r.message).toContain(c);
  });
});
