// `peerauth doctor` must give the server's own verdict on the socket's directory: an existing default
// directory that the server refuses (owned by someone else, even root; or a symlink) must not be "ok".
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { bin, type CliResult, setprivArgs, tempDir } from './helpers.js';

const USER = { name: 'pa12f-doctor', uid: 44801, gid: 44801 };
let base: string;

/** `peerauth ARGS` with XDG_RUNTIME_DIR=base, as `as` when given; serve is stopped by a guard if it starts. */
function peerauth(args: string[], as?: { uid: number; gid: number }): Promise<CliResult> {
  const argv = [
    ...(as ? ['setpriv', ...setprivArgs(as)] : []),
    'env',
    `XDG_RUNTIME_DIR=${base}`,
    process.execPath,
    bin,
    ...args,
  ];
  return new Promise((resolve) => {
    // The guard: a serve that starts is killed after 20 s.
    execFile(
      argv[0] as string,
      argv.slice(1),
      { timeout: 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** The user can run the CLI from this checkout (not so from a 0700 checkout: then that case is skipped). */
function userCanRunCli(): boolean {
  return require_('setpriv', [...setprivArgs(USER), process.execPath, bin, '--version']);
}

function require_(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

beforeEach(() => {
  base = tempDir('pa12f-');
});

afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

describeAsRoot('doctor and serve agree on the default socket directory', () => {
  beforeAll(() => {
    removeTestUser(USER.name);
    removeTestGroup(USER.name);
    createTestGroup(USER.name, USER.gid);
    createTestUser(USER.name, { uid: USER.uid, gid: USER.gid });
  });

  afterAll(() => {
    removeTestUser(USER.name);
    removeTestGroup(USER.name);
  });

  it('an existing root-owned default directory: both refuse it for a non-root user', async (ctx) => {
    const dir = path.join(base, 'peerauth');
    fs.mkdirSync(dir, { mode: 0o755 });
    if (!userCanRunCli()) ctx.skip();
    const serve = await peerauth(['serve'], USER);
    const doctor = await peerauth(['doctor'], USER);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(`owned by uid 0, not by this process (uid ${USER.uid})`);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(`owned by uid 0, not by this process (uid ${USER.uid})`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a default directory that is a symlink to a safe directory: both refuse it', async () => {
    const target = path.join(base, 'elsewhere');
    fs.mkdirSync(target, { mode: 0o700 });
    fs.symlinkSync(target, path.join(base, 'peerauth'));
    const serve = await peerauth(['serve']);
    const doctor = await peerauth(['doctor']);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain('the socket directory is a symlink');
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain('the socket directory is a symlink');
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('a missing default directory: doctor says the server will create it', async () => {
    const doctor = await peerauth(['doctor']);
    expect(doctor.stdout).toContain('the server will create it 0700');
    expect(fs.existsSync(path.join(base, 'peerauth'))).toBe(false);
  });
});

describe('doctor and serve agree on what is at the socket path', () => {
  it('a symlink at the socket path: both refuse it and leave it and its target alone', async () => {
    const target = path.join(base, 'target');
    fs.writeFileSync(target, 'keep');
    const link = path.join(base, 's.sock');
    fs.symlinkSync(target, link);
    const serve = await peerauth(['serve', '--socket', link]);
    const doctor = await peerauth(['doctor', '--socket', link]);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain('it is a symlink (never followed or removed)');
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain('socket file PROBLEM');
    expect(doctor.stdout).toContain('it is a symlink (never followed or removed)');
    expect(fs.readlinkSync(link)).toBe(target);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep');
  });

  it('a stale socket: doctor says the server will replace it', async () => {
    // A socket file nobody listens on, as a killed server leaves it: bound elsewhere, linked here, closed.
    const socket = path.join(base, 's.sock');
    const stale = net.createServer();
    await new Promise<void>((r) => stale.listen(path.join(base, 'bound.sock'), r));
    fs.linkSync(path.join(base, 'bound.sock'), socket);
    await new Promise<void>((r) => stale.close(() => r()));
    const doctor = await peerauth(['doctor', '--socket', socket]);
    expect(doctor.stdout).toContain('a stale socket nobody answers on; the server will replace it');
    expect(doctor.code).toBe(0);
  });
});

describeAsRoot('doctor and serve agree on a symlink in another user’s directory', () => {
  it('a root-owned symlink in a directory another user owns: both refuse it, and nothing is created', async () => {
    // base (root, 0755) / theirs (the other user's) / link -> base/safe (root's own directory, 0755)
    const theirs = path.join(base, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chownSync(theirs, USER.uid, USER.gid);
    const safe = path.join(base, 'safe');
    fs.mkdirSync(safe, { mode: 0o755 });
    const link = path.join(theirs, 'link');
    fs.symlinkSync(safe, link);
    // The link is root's, but it sits in their directory: they can move it (and swap it with
    // renameat2 RENAME_EXCHANGE) whenever they like.
    const moved = execFileSync(
      'setpriv',
      [...setprivArgs(USER), 'sh', '-c', `mv ${link} ${link}.x && mv ${link}.x ${link} && echo moved`],
      {
        encoding: 'utf8',
      },
    );
    expect(moved.trim()).toBe('moved');
    expect(fs.lstatSync(link).uid).toBe(0);

    const socket = path.join(link, 's.sock');
    const serve = await peerauth(['serve', '--socket', socket]);
    const doctor = await peerauth(['doctor', '--socket', socket]);
    const why = `the directory ${theirs}, which holds ${link} on its path, is owned by uid ${USER.uid}`;
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain('PEERAUTH_UNSAFE_SOCKET_DIRECTORY');
    expect(serve.stderr).toContain(why);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(why);
    expect(fs.readdirSync(safe)).toEqual([]);
  });

  it('a root-owned symlink whose target walks through another user’s directory and out again: both refuse it', async () => {
    // base/link -> theirs/inner/../../safe: the kernel walks through their directory, where they can swap
    // 'inner' for a symlink of their own; the directory the walk ends in is root's.
    const theirs = path.join(base, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chownSync(theirs, USER.uid, USER.gid);
    fs.mkdirSync(path.join(theirs, 'inner'), { mode: 0o755 });
    const safe = path.join(base, 'safe');
    fs.mkdirSync(safe, { mode: 0o755 });
    const link = path.join(base, 'link');
    fs.symlinkSync('theirs/inner/../../safe', link);
    const socket = path.join(link, 's.sock');
    const serve = await peerauth(['serve', '--socket', socket]);
    const doctor = await peerauth(['doctor', '--socket', socket]);
    const why = `the directory ${theirs}, which holds ${path.join(theirs, 'inner')} on its path, is owned by uid ${USER.uid}`;
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(why);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(why);
    expect(fs.readdirSync(safe)).toEqual([]);
  });
});
