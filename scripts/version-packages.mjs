#!/usr/bin/env node
// The release's version step: `changeset version` bumps the packages and writes their changelogs, the
// lockfile follows, and so does the text that names a package's own version. core-native's README shows the build-from-source
// commands NativeAddonMissingError prints, which check out the tag `@peerauth/core-native@<version>`, and
// its tests compare the two, so the version commit must carry the new version in the README too.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The README text with every `@peerauth/core-native@<semver>` naming `version`. */
export function withVersion(text, name, version) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return text.replace(
    new RegExp(`${escaped}@\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?`, 'g'),
    `${name}@${version}`,
  );
}

export function syncReadmeVersions(dir = root) {
  const pkgDir = path.join(dir, 'packages/core-native');
  const { name, version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const readme = path.join(pkgDir, 'README.md');
  const before = readFileSync(readme, 'utf8');
  const after = withVersion(before, name, version);
  if (after !== before) writeFileSync(readme, after);
  console.log(`version-packages: ${path.relative(dir, readme)} names ${name}@${version}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes('--readme-only')) {
    const r = spawnSync('npx', ['changeset', 'version'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    // The lockfile records each workspace's version and the exact versions they require of each other:
    // without this the version commit fails `npm ci` ("package.json and package-lock.json are not in sync").
    const lock = spawnSync(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: root, stdio: 'inherit' },
    );
    if (lock.status !== 0) process.exit(lock.status ?? 1);
  }
  syncReadmeVersions();
}
