#!/usr/bin/env node
// Packs every package as npm would publish it, installs each tarball alone into an empty directory with
// `npm install --ignore-scripts` (as a consumer whose npm blocks install scripts would), and runs a smoke
// test against the installed copy. Also checks each package's manifest and that no tests, fixtures,
// TypeScript sources or build intermediates are shipped.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'peerauth-pack-'));
const tarballs = path.join(work, 'tarballs');
fs.mkdirSync(tarballs);

const PACKAGES = {
  identity: { deps: [] },
  'core-native': { deps: [] },
  server: { deps: ['identity', 'core-native'] },
  cli: { deps: ['identity', 'core-native', 'server'] },
};
const REQUIRED_FIELDS = ['license', 'repository', 'keywords', 'files', 'exports'];
const FORBIDDEN = [
  [/(^|\/)test\//, 'a test directory'],
  [/\.test\.[cm]?[jt]s$/, 'a test file'],
  [/(^|\/)(test-)?fixtures?\//, 'fixtures'],
  [/(?<!\.d)\.ts$/, 'TypeScript source'],
  [/(^|\/)build\//, 'node-gyp build output'],
  [/\.(o|obj|a)$/, 'an object file'],
  [/\.zig-cache\//, 'the zig cache'],
  [/\.vitest-results\.json$/, 'test results'],
];

const sh = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

const results = [];
function record(name, check, error) {
  results.push({ name, check, ok: !error, error });
  console.log(
    `${error ? 'FAIL' : 'ok  '} ${name}: ${check}${error ? `\n       ${String(error).split('\n').join('\n       ')}` : ''}`,
  );
}
async function attempt(name, check, fn) {
  try {
    await fn();
    record(name, check);
  } catch (err) {
    record(name, check, err.stderr ? `${err.message}\n${err.stderr}` : (err.stack ?? err));
  }
}

console.log('test:pack: prebuilding the addon and building every package');
sh('npm', ['run', 'prebuild', '-w', '@peerauth/core-native'], { cwd: root, stdio: 'inherit' });
sh('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' });

const tgz = {};
for (const name of Object.keys(PACKAGES)) {
  const dir = path.join(root, 'packages', name);
  const [info] = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', tarballs], { cwd: dir }));
  tgz[name] = path.join(tarballs, info.filename);
  const files = info.files.map((f) => f.path);
  await attempt(name, 'manifest has license, repository, keywords, files, exports', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const missing = REQUIRED_FIELDS.filter((f) => pkg[f] === undefined);
    if (missing.length) throw new Error(`missing: ${missing.join(', ')}`);
  });
  await attempt(
    name,
    `tarball holds no tests, fixtures, sources or intermediates (${files.length} files)`,
    () => {
      const bad = files.flatMap((f) =>
        FORBIDDEN.filter(([re]) => re.test(f)).map(([, why]) => `${f} (${why})`),
      );
      if (bad.length) throw new Error(bad.join('\n'));
      if (!files.includes('README.md') || !files.includes('LICENSE'))
        throw new Error('README.md or LICENSE missing');
    },
  );
}

/** A fresh directory with only this package (and its @peerauth dependencies) installed from tarballs. */
function install(name) {
  const dir = path.join(work, `install-${name}`);
  fs.mkdirSync(dir);
  const local = Object.fromEntries(
    [name, ...PACKAGES[name].deps].map((n) => [`@peerauth/${n}`, `file:${tgz[n]}`]),
  );
  // overrides: the @peerauth packages are not on the registry yet; every reference must use the tarball.
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: `smoke-${name}`,
      private: true,
      type: 'module',
      dependencies: local,
      overrides: local,
    }),
  );
  sh('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  return dir;
}

function runNode(dir, code) {
  const file = path.join(dir, 'smoke.mjs');
  fs.writeFileSync(file, code);
  return sh(process.execPath, [file], { cwd: dir });
}

function findFiles(dir, pred, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, pred, out);
    else if (pred(p)) out.push(p);
  }
  return out;
}

await attempt('identity', 'installs alone and resolves a uid with a static directory', () => {
  const dir = install('identity');
  const out = runNode(
    dir,
    `import { createResolver } from '@peerauth/identity';
const config = { roles: ['admin', 'public'], people: [{ name: 'Alice', role: 'admin', osUsername: 'alice' }] };
const directory = { async userByUid(uid) { return uid === 1000 ? { name: 'alice', gid: 1000 } : null; }, async groupsOf() { return []; } };
const id = await createResolver(config, directory).resolve({ pid: 1, uid: 1000, gid: 1000, groups: [] });
if (id.role !== 'admin' || id.person?.name !== 'Alice') throw new Error(JSON.stringify(id));
console.log(id.spiffeId);`,
  );
  if (!out.includes('spiffe://peerauth.local/uid-1000')) throw new Error(out);
  const native = findFiles(path.join(dir, 'node_modules'), (p) => p.endsWith('.node'));
  if (native.length) throw new Error(`native code installed: ${native.join(', ')}`);
});

await attempt(
  'core-native',
  'installs without scripts and reads real peer credentials from the prebuild',
  () => {
    const dir = install('core-native');
    runNode(
      dir,
      `import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { getPeerCredentials, addonOrigin } from '@peerauth/core-native';
if (addonOrigin().source !== 'prebuild') throw new Error('not loaded from a prebuild: ' + addonOrigin().path);
const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pa-smoke-')), 's.sock');
const server = net.createServer((s) => {
  const c = getPeerCredentials(s);
  if (c.pid !== process.pid || c.uid !== process.getuid() || c.gid !== process.getgid()) throw new Error(JSON.stringify(c));
  s.end(); server.close();
}).listen(sock, () => net.connect(sock).on('data', () => {}));`,
    );
  },
);

await attempt('server', 'installs alone and admits a connection with an identity', () => {
  const dir = install('server');
  runNode(
    dir,
    `import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { createPeerServer } from '@peerauth/server';
const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pa-smoke-')), 's.sock');
const server = createPeerServer({ path: sock, logger: { info() {}, warn() {}, error() {} } }, (socket, identity) => {
  if (identity.uid !== process.getuid()) throw new Error(JSON.stringify(identity));
  socket.end();
  server.close();
});
server.listen(() => net.connect(sock).resume());`,
  );
});

await attempt('cli', 'installs alone: --version, check-config, serve answers /whoami', async () => {
  const dir = install('cli');
  const bin = path.join(dir, 'node_modules/.bin/peerauth');
  const version = sh('npx', ['--no-install', 'peerauth', '--version'], { cwd: dir }).trim();
  const expected = JSON.parse(fs.readFileSync(path.join(root, 'packages/cli/package.json'), 'utf8')).version;
  if (version !== expected) throw new Error(`--version printed "${version}"`);
  sh(bin, ['check-config', path.join(root, 'test-fixtures/configs/valid.json')]);
  const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pa-smoke-')), 's.sock');
  const child = spawn(bin, ['serve', '--socket', sock, '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let body;
  try {
    await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      setTimeout(() => reject(new Error('serve did not start in 20 s')), 20_000).unref();
    });
    body = JSON.parse(sh('curl', ['-sS', '--unix-socket', sock, 'http://localhost/whoami']));
  } finally {
    child.kill('SIGTERM');
  }
  if (body.uid !== process.getuid() || body.role !== 'owner') throw new Error(JSON.stringify(body));
  const code = await exited;
  if (code !== 0) throw new Error(`serve exited ${code} on SIGTERM`);
  if (fs.existsSync(sock)) throw new Error('socket file left behind');
});

fs.rmSync(work, { recursive: true, force: true });
const failed = results.filter((r) => !r.ok).length;
console.log(`test:pack: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
