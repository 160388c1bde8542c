#!/usr/bin/env node
// Packs every package as npm would publish it, installs each tarball alone into an empty directory (npm
// must print no install-script warning, and `npm ci` from the resulting lockfile must run nothing), and runs
// a smoke test against the installed copy. Every entry point is loaded with import and with require(), and
// compiled from a strict TypeScript .mts and .cts consumer whose output then runs, so TypeScript's view of
// the package matches Node's. Also checks each package's manifest, that no tests, fixtures, sources or build
// intermediates are shipped, and that every sourceMappingURL comment names a shipped file.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'peerauth-pack-'));
const tarballs = path.join(work, 'tarballs');
fs.mkdirSync(tarballs);

// entries: each entry point and a function it must export, under import and require() alike.
const PACKAGES = {
  identity: { deps: [], entries: { '@peerauth/identity': 'createResolver' } },
  'core-native': {
    deps: [],
    entries: {
      '@peerauth/core-native': 'getPeerCredentials',
      '@peerauth/core-native/errors': 'isPeerAuthError',
    },
  },
  'workload-api': { deps: ['core-native'], entries: { '@peerauth/workload-api': 'createX509Source' } },
  server: {
    deps: ['identity', 'core-native'],
    entries: {
      '@peerauth/server': 'createPeerServer',
      '@peerauth/server/express': 'peerauth',
      '@peerauth/server/fastify': 'peerauthPlugin',
    },
  },
  cli: { deps: ['identity', 'core-native', 'workload-api', 'server'], entries: { '@peerauth/cli': 'main' } },
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
  // npm infers `install: node-gyp rebuild` from a binding.gyp (even with "gypfile": false on `npm ci`).
  [/(^|\/)binding\.gyp$/, 'binding.gyp'],
  [/\.(cc|h)$/, 'C++ source'],
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
sh('npm', ['run', 'build:prebuild', '-w', '@peerauth/core-native'], { cwd: root, stdio: 'inherit' });
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
  await attempt(name, 'every sourceMappingURL comment names a file that ships', () => {
    const dangling = files.flatMap((f) => {
      if (!/\.[cm]?js$|\.d\.ts$/.test(f)) return [];
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(fs.readFileSync(path.join(dir, f), 'utf8'))?.[1];
      const target = url && path.posix.join(path.posix.dirname(f), url);
      return target && !files.includes(target) ? [`${f} -> ${target}`] : [];
    });
    if (dangling.length) throw new Error(`${dangling.length} dangling:\n${dangling.slice(0, 5).join('\n')}`);
  });
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
      // protobufjs (under @grpc/grpc-js) has a postinstall that only prints a version-scheme warning: a
      // user who reviewed it denies it, as the root package.json does.
      allowScripts: { protobufjs: false },
    }),
  );
  // Scripts are not ignored: a package of ours that npm thinks has an install script shows up as a warning
  // (or, on `npm ci` from the lockfile, as a node-gyp run that fails).
  for (const args of [['install'], ['ci']]) {
    const out = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=warn'], {
      cwd: dir,
      encoding: 'utf8',
    });
    const ours = `${out.stdout}${out.stderr}`
      .split('\n')
      .filter(
        (l) => /install-scripts|node-gyp|gyp (info|ERR)|EBADENGINE/.test(l) || l.includes('@peerauth/'),
      );
    if (out.status !== 0 || ours.length)
      throw new Error(`npm ${args[0]} (exit ${out.status}) in ${dir}:\n${ours.join('\n') || out.stderr}`);
  }
  return dir;
}

function runNode(dir, code, file = 'smoke.mjs') {
  fs.writeFileSync(path.join(dir, file), code);
  // The smoke scripts' own temporary directories (os.tmpdir()) land in the work directory, removed below.
  const tmp = path.join(work, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  return sh(process.execPath, [path.join(dir, file)], { cwd: dir, env: { ...process.env, TMPDIR: tmp } });
}

/**
 * Loads every entry point of the installed package four ways: import() and require() from plain
 * JavaScript, and from a strict TypeScript .mts and .cts consumer (module nodenext) that must compile and
 * whose output must run. TypeScript accepting a require() that Node then refuses is the failure this
 * catches, and Node refusing a require() of ours on any version `engines` admits.
 */
function checkModuleSystems(name, dir) {
  const entries = Object.entries(PACKAGES[name].entries);
  const checks = entries
    .map(([spec, fn], i) => `if (typeof m${i}.${fn} !== 'function') throw new Error('${spec}: no ${fn}');`)
    .join('\n');
  runNode(
    dir,
    `${entries.map(([spec], i) => `const m${i} = await import('${spec}');`).join('\n')}\n${checks}`,
    'esm.mjs',
  );
  runNode(
    dir,
    `${entries.map(([spec], i) => `const m${i} = require('${spec}');`).join('\n')}\n${checks}`,
    'cjs.cjs',
  );
  const ts = path.join(dir, 'ts');
  fs.mkdirSync(ts);
  const uses = entries.map(([spec, fn], i) => `import { ${fn} as f${i} } from '${spec}';`).join('\n');
  const body = `${uses}\nconst fns: Function[] = [${entries.map((_, i) => `f${i}`).join(', ')}];
if (!fns.every((f) => typeof f === 'function')) throw new Error('an export is missing');\n`;
  fs.writeFileSync(path.join(ts, 'consumer.mts'), body);
  fs.writeFileSync(path.join(ts, 'consumer.cts'), body);
  fs.writeFileSync(
    path.join(ts, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        outDir: 'out',
        skipLibCheck: true,
        typeRoots: [path.join(root, 'node_modules/@types')],
        types: ['node'],
      },
      include: ['consumer.mts', 'consumer.cts'],
    }),
  );
  sh(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', ts], { cwd: ts });
  for (const out of ['consumer.mjs', 'consumer.cjs'])
    sh(process.execPath, [path.join(ts, 'out', out)], { cwd: ts });
}

function findFiles(dir, pred, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, pred, out);
    else if (pred(p)) out.push(p);
  }
  return out;
}

const installed = {};
for (const name of Object.keys(PACKAGES)) {
  await attempt(
    name,
    'installs alone: no install-script warning, and `npm ci` from its lockfile runs nothing',
    () => {
      installed[name] = install(name);
    },
  );
  await attempt(
    name,
    'every entry point loads with import and require(), and from strict TypeScript .mts and .cts',
    () => checkModuleSystems(name, installed[name]),
  );
}

await attempt('identity', 'resolves a uid with a static directory', () => {
  const dir = installed.identity;
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

await attempt('core-native', 'reads real peer credentials from the prebuild', () => {
  const dir = installed['core-native'];
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
});

await attempt(
  'core-native',
  'without a prebuild for the platform: NativeAddonMissingError with the build commands',
  () => {
    const pkgDir = path.join(installed['core-native'], 'node_modules/@peerauth/core-native');
    const hidden = path.join(work, 'prebuilds-hidden');
    fs.renameSync(path.join(pkgDir, 'prebuilds'), hidden);
    try {
      const out = JSON.parse(
        runNode(
          installed['core-native'],
          `import { addonOrigin, buildFromSourceCommands } from '@peerauth/core-native';
try { addonOrigin(); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, commands: buildFromSourceCommands() })); }`,
          'missing.mjs',
        ),
      );
      if (out.code !== 'PEERAUTH_NATIVE_ADDON_MISSING') throw new Error(JSON.stringify(out));
      const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
      if (!out.commands.some((c) => c.includes(`--branch @peerauth/core-native@${version}`)))
        throw new Error(`no command checks out ${version}: ${out.commands}`);
      for (const c of out.commands) if (!out.message.includes(c)) throw new Error(`message lacks "${c}"`);
    } finally {
      fs.renameSync(hidden, path.join(pkgDir, 'prebuilds'));
    }
  },
);

await attempt('server', 'admits a connection with an identity', () => {
  const dir = installed.server;
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

await attempt('cli', '--version, check-config, serve answers /whoami', async () => {
  const dir = installed.cli;
  const bin = path.join(dir, 'node_modules/.bin/peerauth');
  const version = sh('npx', ['--no-install', 'peerauth', '--version'], { cwd: dir }).trim();
  const expected = JSON.parse(fs.readFileSync(path.join(root, 'packages/cli/package.json'), 'utf8')).version;
  if (version !== expected) throw new Error(`--version printed "${version}"`);
  sh(bin, ['check-config', path.join(root, 'test-fixtures/configs/valid.json')]);
  const sock = path.join(fs.mkdtempSync(path.join(work, 'pa-smoke-')), 's.sock');
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
