// Values that cannot travel into a child's environment: the config refuses them up front, and a value
// that only shows up with a connection (a username from the user database) refuses that connection alone.
import fs from 'node:fs';
import path from 'node:path';
import { findControlCharacter, type UnixIdentity } from '@peerauth/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readableCopy } from '../../../test-fixtures/readable.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { connectionEnv, UnexportableValueError } from '../src/exec-env.js';
import {
  fixtures,
  type RunningCli,
  run,
  runCli,
  runCliToExit,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from './helpers.js';

const echo = path.join(fixtures, 'jsonrpc-echo.mjs');
// Run as another uid: from a copy that uid can read, whatever the checkout's permissions.
const client = readableCopy(path.join(fixtures, 'cli/line-client.mjs'));

describe('a config with control characters in names', () => {
  it('check-config rejects a NUL in a person name, naming its path', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { people: [{ name: 'Eve\u0000', role: 'public' }] });
    const r = await runCli(['check-config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('people[0].name');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exec refuses to start with a newline in a person name, and leaves no socket', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      people: [{ name: 'Eve\nPEERAUTH_ROLE=admin', role: 'public', uids: [process.getuid!()] }],
    });
    const socket = path.join(dir, 'e.sock');
    const r = await runCliToExit(['exec', '--socket', socket, '--config', config, '--', 'cat']);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('people[0].name');
    expect(fs.existsSync(socket)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('connectionEnv', () => {
  const identity: UnixIdentity = {
    auth: 'unix',
    uid: 4002,
    gid: 4002,
    pid: 77,
    groups: [4002],
    username: 'alice',
    person: { name: 'Alice', role: 'member' },
    role: 'member',
    fallback: false,
    spiffeId: 'spiffe://peerauth.local/uid-4002',
    selectors: [],
    trail: [],
  } as unknown as UnixIdentity;

  it('exports the identity as PEERAUTH_*', () => {
    expect(connectionEnv(identity)).toMatchObject({ PEERAUTH_USER: 'alice', PEERAUTH_PERSON: 'Alice' });
  });

  for (const [field, value] of [
    ['username', 'alice\nPEERAUTH_ROLE=admin'],
    ['username', 'al\u0000ice'],
    ['role', 'mem\u007fber'],
    ['person', { name: 'Alice\r', role: 'member' }],
  ] as const) {
    it(`refuses a ${field} holding ${JSON.stringify(value)}`, () => {
      const bad = { ...identity, [field]: value } as UnixIdentity;
      expect(() => connectionEnv(bad)).toThrow(UnexportableValueError);
      try {
        connectionEnv(bad);
      } catch (err) {
        expect((err as UnexportableValueError).code).toBe('PEERAUTH_EXEC_UNEXPORTABLE_VALUE');
        // The message names the variable and escapes the value: it goes into logs as it is.
        expect((err as Error).message).toMatch(/PEERAUTH_[A-Z_]+/);
        expect(findControlCharacter((err as Error).message)).toBeNull();
      }
    });
  }
});

/**
 * A user database holding a name with a control character. useradd refuses such names (as every admin tool
 * should), but other databases (LDAP, a hand-edited file) can hold them. The server runs in its own mount
 * namespace where a copy of /etc/passwd with that entry is mounted over the real one: nothing else on the
 * machine sees it.
 */
describeAsRoot('peerauth exec with a username holding a control character', () => {
  const user = { name: 'pa10e-\u001b[31mctl', uid: 44110, gid: 44110 };
  let dir: string;
  let cli: RunningCli;
  beforeAll(async () => {
    dir = tempDir();
    const passwd = path.join(dir, 'passwd');
    fs.writeFileSync(
      passwd,
      `${fs.readFileSync('/etc/passwd', 'utf8')}${user.name}:x:${user.uid}:${user.gid}::/nonexistent:/usr/sbin/nologin\n`,
    );
    const prefix = [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$1" /etc/passwd && shift && exec "$@"',
      'sh',
      passwd,
    ];
    cli = await startCli(['exec', '--mode', '0666', '--', process.execPath, echo], path.join(dir, 'e.sock'), {
      prefix,
    });
  });
  afterAll(async () => {
    await cli?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses that connection with an audit line, and keeps serving everyone else', async () => {
    const refused = await run(process.execPath, [client, cli.socket], { uid: user.uid, gid: user.gid });
    expect(refused.stdout.trim()).toBe('CLOSED');
    await waitFor(() => cli.stderr().includes('PEERAUTH_EXEC_UNEXPORTABLE_VALUE'));
    const line = cli
      .stderr()
      .split('\n')
      .find((l) => l.includes('PEERAUTH_EXEC_UNEXPORTABLE_VALUE'))!;
    expect(JSON.parse(line)).toMatchObject({
      event: 'peerauth.connection',
      decision: 'rejected',
      peerUid: user.uid,
    });
    const served = await run(process.execPath, [client, cli.socket]);
    expect(JSON.parse(served.stdout).result.env.PEERAUTH_UID).toBe('0');
    expect(cli.child.exitCode).toBe(null);
  });
});
