// Every example runs as its README says: the MCP server behind `peerauth exec` (stdio) and `peerauth proxy`
// (Streamable HTTP) answers two different users with their own identities, the Express and Fastify apps
// answer with the caller's, and systemd accepts the units. The READMEs' program blocks are checked too.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReadme, curlUnix } from '../../test-fixtures/readme.js';
import { isLinux, isRoot } from '../../test-fixtures/root.js';
import { hasTool } from '../../test-fixtures/tools.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../test-fixtures/users.js';

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repo = path.dirname(examples);
const peerauthBin = path.join(repo, 'packages/cli/bin/peerauth.js');
const OTHER = { name: 'pa14-mcp', uid: 44601, gid: 44601 };
const asRoot = isRoot && isLinux;

let dir: string;
const running: ChildProcess[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa14-ex-'));
  fs.chmodSync(dir, 0o755);
  if (asRoot) {
    removeTestUser(OTHER.name);
    removeTestGroup(OTHER.name);
    createTestGroup(OTHER.name, OTHER.gid);
    createTestUser(OTHER.name, { uid: OTHER.uid, gid: OTHER.gid });
  } else {
    console.warn('[peerauth tests] examples: not root on Linux, so each client connects as this user only');
  }
});

afterAll(async () => {
  for (const child of running) child.kill('SIGTERM');
  await Promise.all(running.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  fs.rmSync(dir, { recursive: true, force: true });
  if (asRoot) {
    removeTestUser(OTHER.name);
    removeTestGroup(OTHER.name);
  }
});

/** Starts a long-running example and resolves once `ready` appears on its stdout. */
async function start(args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(ready)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)));
  });
  return child;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: repo, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

const me = os.userInfo();
/** This user, and (as root) a second, different one. */
const callers = () => [
  { as: [] as string[], uid: me.uid, user: me.username },
  ...(asRoot ? [{ as: ['--as', OTHER.name], uid: OTHER.uid, user: OTHER.name }] : []),
];

/** Runs the example client as each caller; the whoami tool must answer with that caller's identity. */
async function expectEachCallerSeen(mode: 'stdio' | 'http', socket: string): Promise<void> {
  for (const c of callers()) {
    const answer = JSON.parse(
      await run(process.execPath, ['examples/mcp/client.mjs', mode, socket, ...c.as]),
    );
    expect(answer).toMatchObject({
      uid: c.uid,
      user: c.user,
      spiffeId: `spiffe://peerauth.local/uid-${c.uid}`,
    });
  }
}

describe('mcp', () => {
  it('behind peerauth exec (stdio): each user gets its own identity from the whoami tool', async () => {
    const socket = path.join(dir, 'exec.sock');
    await start(
      [
        peerauthBin,
        'exec',
        '--socket',
        socket,
        '--mode',
        '0666',
        '--',
        process.execPath,
        'examples/mcp/stdio-server.mjs',
      ],
      'listening on',
    );
    await expectEachCallerSeen('stdio', socket);
  });

  it('behind peerauth proxy (Streamable HTTP): each user gets its own identity from the whoami tool', async () => {
    const upstream = path.join(dir, 'upstream', 'mcp.sock');
    await start(['examples/mcp/http-server.mjs', upstream], 'listening on');
    const socket = path.join(dir, 'proxy.sock');
    await start(
      [peerauthBin, 'proxy', '--socket', socket, '--mode', '0666', '--upstream', `unix:${upstream}`],
      'listening on',
    );
    await expectEachCallerSeen('http', socket);
  });
});

describe.each(['express', 'fastify'])('%s app', (name) => {
  it('answers /whoami with the caller and decides /admin by role', async () => {
    const socket = path.join(dir, `${name}.sock`);
    await start([`examples/${name}/app.mjs`, socket], 'listening on');
    const body = JSON.parse(await curlUnix(socket, '/whoami'));
    expect(body).toMatchObject({ uid: me.uid, user: me.username });
    if (asRoot) {
      expect(JSON.parse(await curlUnix(socket, '/admin'))).toEqual({ ok: true });
      const curlAs = (p: string) =>
        run('setpriv', [
          '--reuid',
          String(OTHER.uid),
          '--regid',
          String(OTHER.gid),
          '--clear-groups',
          'curl',
          '-sS',
          '--unix-socket',
          socket,
          `http://localhost${p}`,
        ]);
      expect(JSON.parse(await curlAs('/whoami'))).toEqual({
        uid: OTHER.uid,
        user: OTHER.name,
        person: null,
        role: 'public',
      });
      expect(JSON.parse(await curlAs('/admin'))).toEqual({ error: 'role public may not' });
    }
  });
});

// systemd-analyze exists only where systemd does (not on macOS, nor in most containers).
const systemdAnalyze = isLinux && hasTool('systemd-analyze', 'systemd units') ? 'systemd-analyze' : undefined;

describe('systemd units', () => {
  it.skipIf(!systemdAnalyze)('pass systemd-analyze verify without a warning', async () => {
    // verify requires ExecStart='s programs to exist: point them at this checkout's.
    const units = path.join(dir, 'units');
    fs.mkdirSync(units);
    for (const unit of ['peerauth-mcp.socket', 'peerauth-mcp.service']) {
      const text = fs
        .readFileSync(path.join(examples, 'systemd', unit), 'utf8')
        .replace('/usr/bin/peerauth ', `${peerauthBin} `)
        .replace('/usr/bin/node ', `${process.execPath} `);
      fs.writeFileSync(path.join(units, unit), text);
    }
    const out = await new Promise<string>((resolve) => {
      execFile(
        systemdAnalyze!,
        ['verify', path.join(units, 'peerauth-mcp.socket'), path.join(units, 'peerauth-mcp.service')],
        (err, stdout, stderr) => resolve(`${err ? `exit ${err.code}\n` : ''}${stdout}${stderr}`),
      );
    });
    // Unknown keys and sections are only warnings to systemd: any line about our units fails here.
    expect(out.split('\n').filter((l) => l.includes('peerauth-mcp') || l.startsWith('exit'))).toEqual([]);
  });
});

describe('READMEs', () => {
  it.each(['README.md', 'mcp/README.md', 'express/README.md', 'fastify/README.md', 'systemd/README.md'])(
    '%s: every program block type-checks and runs',
    async (readme) => {
      await checkReadme({ readme: path.join(examples, readme), packageDir: examples, runs: [] });
    },
  );
});
