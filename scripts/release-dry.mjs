#!/usr/bin/env node
// `npm run release:dry`: what the release workflow does, on this machine, for this platform only, in a
// scratch copy of the checkout (tracked and untracked files, not ignored ones) under the system temp dir:
//   1. `npm ci`, then the release's version step (`npm run version-packages`: the pending changesets applied,
//      changelogs written, core-native's README following the version);
//   2. this platform's prebuild as the release builds it (`build:prebuild`, build/ removed, glibc floor on
//      Linux), its SHA256SUMS recorded and checked by .github/verify-prebuilds.sh, and by prepublishOnly's
//      check for this target;
//   3. every package's tests against that prebuild (or those named by --tests=core-native,cli,...);
//   4. the five tarballs packed; each carries CHANGELOG.md, and core-native's binary matches its checksum;
//   5. the tarballs installed into a fresh project outside the repository with --foreground-scripts (so any
//      install script would show), then `peerauth serve` from there answers one /whoami request.
// Leaves nothing behind: the scratch directory and the server go, also on failure or Ctrl-C.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['core-native', 'identity', 'workload-api', 'server', 'cli'];
const TEST_DIRS = [...PACKAGES.map((p) => `packages/${p}`), 'examples'];
const testsArg = process.argv.find((a) => a.startsWith('--tests='));
const testDirs = testsArg
  ? testsArg
      .slice('--tests='.length)
      .split(',')
      .map((t) => (t === 'examples' ? t : `packages/${t}`))
  : TEST_DIRS;
for (const d of testDirs) if (!TEST_DIRS.includes(d)) fail(`--tests: unknown package ${d}`);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'peerauth-release-dry-'));
const repo = path.join(scratch, 'repo');
const app = path.join(scratch, 'app');
let server = null;

function cleanup() {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  fs.rmSync(scratch, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });

function fail(message) {
  console.error(`release:dry: FAILED: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}
const step = (s) => console.log(`\nrelease:dry: ${s}`);
function sh(cmd, args, cwd, env = {}) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0)
    fail(
      `${cmd} ${args.join(' ')} (in ${path.relative(scratch, cwd) || cwd}) exited ${r.status ?? r.signal}`,
    );
}
const read = (f) => fs.readFileSync(f, 'utf8');
const sha256 = (f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

async function main() {
  step(`scratch copy of the checkout in ${scratch}`);
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && fs.existsSync(path.join(root, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(repo, f));
    fs.chmodSync(path.join(repo, f), fs.statSync(path.join(root, f)).mode);
  }
  sh('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], repo);

  step('version step: the pending changesets applied (npm run version-packages)');
  const pending = fs
    .readdirSync(path.join(repo, '.changeset'))
    .filter((f) => f.endsWith('.md') && f !== 'README.md');
  // With none pending (just after a release), the release would publish nothing new: rehearse the current
  // versions, whose changelogs the last version step wrote.
  if (pending.length === 0) console.log('release:dry: no pending changeset; rehearsing the current versions');
  else sh('npm', ['run', 'version-packages'], repo);
  const versions = PACKAGES.map(
    (p) => JSON.parse(read(path.join(repo, 'packages', p, 'package.json'))).version,
  );
  if (new Set(versions).size !== 1) fail(`the fixed group's versions differ: ${versions.join(', ')}`);
  const version = versions[0];
  for (const p of PACKAGES)
    if (!read(path.join(repo, 'packages', p, 'CHANGELOG.md')).includes(`## ${version}`))
      fail(`packages/${p}/CHANGELOG.md has no ${version} section`);
  const lock = JSON.parse(read(path.join(repo, 'package-lock.json'))).packages;
  for (const p of PACKAGES) {
    const entry = lock[`packages/${p}`];
    const stale = Object.entries(entry.dependencies ?? {}).filter(
      ([n, v]) => n.startsWith('@peerauth/') && v !== version,
    );
    if (entry.version !== version || stale.length)
      fail(
        `package-lock.json still records packages/${p} at ${entry.version} (${stale.map((d) => d.join('@'))})`,
      );
  }
  if (!read(path.join(repo, 'packages/core-native/README.md')).includes(`@peerauth/core-native@${version}`))
    fail(`core-native's README does not name ${version}`);
  console.log(`release:dry: every package at ${version}, with its changelog`);

  step("this platform's prebuild, as the release builds it");
  sh('npm', ['run', 'build'], repo);
  sh('npm', ['run', 'build:prebuild', '-w', '@peerauth/core-native'], repo);
  fs.rmSync(path.join(repo, 'packages/core-native/build'), { recursive: true, force: true });
  const target = `${process.platform}-${process.arch}`;
  const tdir = path.join(repo, 'packages/core-native/prebuilds', target);
  const binaries = fs.readdirSync(tdir).filter((f) => f.endsWith('.node'));
  if (binaries.length !== 1) fail(`prebuilds/${target} holds ${binaries.join(', ') || 'no binary'}`);
  if (process.platform === 'linux')
    sh(process.execPath, ['scripts/check-glibc.mjs', path.join(tdir, binaries[0])], repo);
  const variant = binaries[0].match(/\.(glibc|musl)\.node$/)?.[1] ?? process.platform;
  fs.writeFileSync(
    path.join(tdir, `SHA256SUMS.${variant}`),
    `${sha256(path.join(tdir, binaries[0]))}  ${binaries[0]}\n`,
  );
  sh('bash', ['.github/verify-prebuilds.sh', target], repo);
  const { checkPrebuilds, REQUIRED } = await import(
    pathToFileURL(path.join(repo, 'packages/core-native/scripts/check-prebuilds.mjs')).href
  );
  const mine = Object.fromEntries(
    Object.entries(REQUIRED)
      .filter(([t]) => t === target)
      .map(([t, list]) => [t, list.filter((f) => f === binaries[0])]),
  );
  const problems = checkPrebuilds(path.join(repo, 'packages/core-native/prebuilds'), mine);
  if (problems.length || !mine[target]?.length)
    fail(
      `prepublishOnly's check for ${target}: ${problems.join('; ') || `${binaries[0]} is not a release binary`}`,
    );
  const origin = execFileSync(
    process.execPath,
    ['-e', "import('@peerauth/core-native').then((m) => console.log(m.addonOrigin().source))"],
    { cwd: repo, encoding: 'utf8' },
  ).trim();
  if (origin !== 'prebuild') fail(`the addon loads from ${origin}, not the prebuild`);

  step(`tests against the prebuild: ${testDirs.join(', ')}`);
  // vitest directly: `npm test` (turbo) would build the addon into build/ again and test that instead.
  for (const d of testDirs) sh('npx', ['vitest', 'run'], path.join(repo, d));
  if (fs.existsSync(path.join(repo, 'packages/core-native/build')))
    fail('a test rebuilt the addon into build/');

  step(`packing the ${PACKAGES.length} tarballs`);
  const tarballs = path.join(scratch, 'tarballs');
  fs.mkdirSync(tarballs);
  const tgz = {};
  for (const p of PACKAGES) {
    const [info] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', tarballs], {
        cwd: path.join(repo, 'packages', p),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    tgz[p] = path.join(tarballs, info.filename);
    const names = info.files.map((f) => f.path);
    if (!names.includes('CHANGELOG.md')) fail(`${info.filename} has no CHANGELOG.md`);
    if (info.version !== version) fail(`${info.filename} is ${info.version}, not ${version}`);
  }
  const unpacked = path.join(scratch, 'unpacked');
  fs.mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tgz['core-native'], '-C', unpacked]);
  const shipped = path.join(unpacked, 'package/prebuilds', target);
  const sums = read(path.join(shipped, `SHA256SUMS.${variant}`));
  if (!sums.startsWith(`${sha256(path.join(shipped, binaries[0]))}  ${binaries[0]}`))
    fail(`the packed ${binaries[0]} does not match its SHA256SUMS.${variant}`);
  console.log(
    `release:dry: ${PACKAGES.length} tarballs with CHANGELOG.md; the packed ${binaries[0]} matches its checksum`,
  );

  step(`installing the tarballs into a fresh project (${app}) with --foreground-scripts`);
  fs.mkdirSync(app);
  const deps = Object.fromEntries(PACKAGES.map((p) => [`@peerauth/${p}`, `file:${tgz[p]}`]));
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'release-dry-app',
      private: true,
      dependencies: deps,
      overrides: deps,
      // protobufjs (under @grpc/grpc-js) has a postinstall that only prints a version-scheme warning.
      allowScripts: { protobufjs: false },
    }),
  );
  const install = spawnSync('npm', ['install', '--foreground-scripts', '--no-audit', '--no-fund'], {
    cwd: app,
    encoding: 'utf8',
  });
  process.stdout.write(install.stdout);
  process.stderr.write(install.stderr);
  if (install.status !== 0) fail(`npm install exited ${install.status}`);
  const ran = `${install.stdout}${install.stderr}`
    .split('\n')
    .filter((l) => /^> @peerauth\/|node-gyp/.test(l));
  if (ran.length) fail(`an install script of ours ran:\n${ran.join('\n')}`);

  step('peerauth serve from the installed packages, and one request');
  const socket = path.join(scratch, 'serve.sock');
  server = spawn(path.join(app, 'node_modules/.bin/peerauth'), ['serve', '--socket', socket], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  server.stdout.on('data', (d) => {
    log += d;
  });
  server.stderr.on('data', (d) => {
    log += d;
  });
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  for (let i = 0; !fs.existsSync(socket); i++) {
    if (server.exitCode !== null || i > 300) fail(`peerauth serve did not listen on ${socket}:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const answer = await new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path: '/whoami' }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
  const me = JSON.parse(answer.body);
  if (answer.status !== 200 || me.uid !== process.getuid() || me.pid !== process.pid)
    fail(`/whoami answered ${answer.status}: ${answer.body}`);
  console.log(`release:dry: /whoami -> ${answer.body.trim()}`);
  server.kill('SIGTERM');
  const end = await exited;
  if (end.code !== 0) fail(`peerauth serve ended with ${JSON.stringify(end)}:\n${log}`);
  console.log(`\nrelease:dry: ${version} for ${target} rehearsed: built, tested, packed, installed, served`);
}

try {
  await main();
} catch (err) {
  if (!process.exitCode) console.error(err);
  process.exitCode = 1;
} finally {
  cleanup();
}
