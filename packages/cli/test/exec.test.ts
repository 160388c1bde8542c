import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readableCopy } from '../../../test-fixtures/readable.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { fixtures, type RunningCli, run, startCli, tempDir, waitFor } from './helpers.js';

const echo = path.join(fixtures, 'jsonrpc-echo.mjs');
// Run as other users too: from a copy they can read, wherever the checkout is.
const client = readableCopy(path.join(fixtures, 'cli/line-client.mjs'));

interface Answer {
  result: { pid: number; env: Record<string, string> };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function ask(socket: string, as?: { uid: number; gid: number; groups?: number[] }): Promise<Answer> {
  const r = await run(process.execPath, [client, socket], as);
  return JSON.parse(r.stdout) as Answer;
}

/** A client that keeps its connection open until we close its stdin; resolves with its first line. */
function holdOpen(socket: string): { proc: ChildProcess; firstLine: Promise<string> } {
  const proc = spawn(process.execPath, [client, socket, '--hold'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const firstLine = new Promise<string>((resolve) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  return { proc, firstLine };
}

describe('peerauth exec', () => {
  let dir: string;
  let cli: RunningCli;
  beforeAll(async () => {
    dir = tempDir();
    cli = await startCli(['exec', '--mode', '0666', '--', process.execPath, echo], path.join(dir, 'e.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the command per connection with the identity in PEERAUTH_* and removes it on disconnect', async () => {
    const answer = await ask(cli.socket);
    const env = answer.result.env;
    expect(env.PEERAUTH_UID).toBe(String(process.getuid!()));
    expect(env.PEERAUTH_GID).toBe(String(process.getgid!()));
    expect(env.PEERAUTH_ROLE).toBe('owner');
    expect(env.PEERAUTH_PERSON).toBe('owner');
    expect(env.PEERAUTH_SPIFFE_ID).toBe(`spiffe://peerauth.local/uid-${process.getuid!()}`);
    expect(Number(env.PEERAUTH_PID)).toBeGreaterThan(0);
    // The client has disconnected: its child must go.
    await waitFor(() => !alive(answer.result.pid));
  });
});

describe('peerauth exec --max-children', () => {
  it('refuses a connection over the bound, with an audit line', async () => {
    const dir = tempDir();
    const cli = await startCli(
      ['exec', '--max-children', '1', '--', process.execPath, echo],
      path.join(dir, 'e.sock'),
    );
    const first = holdOpen(cli.socket);
    const firstAnswer = JSON.parse(await first.firstLine) as Answer;
    expect(firstAnswer.result.env.PEERAUTH_ROLE).toBe('owner');

    const second = await run(process.execPath, [client, cli.socket]);
    expect(second.stdout.trim()).toBe('CLOSED');
    await waitFor(() => cli.stderr().includes('max-children (1) reached'));

    first.proc.stdin!.end();
    await waitFor(() => !alive(firstAnswer.result.pid));
    // With the first child gone, a new client is served again.
    const third = await run(process.execPath, [client, cli.socket]);
    expect((JSON.parse(third.stdout) as Answer).result.env.PEERAUTH_ROLE).toBe('owner');
    expect(await cli.stop()).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('peerauth exec --max-children audit trail', () => {
  it('a refused connection has exactly one audit line, rejected, and no accepted or closed', async () => {
    const dir = tempDir();
    const cli = await startCli(
      ['exec', '--max-children', '1', '--', process.execPath, echo],
      path.join(dir, 'e.sock'),
    );
    const first = holdOpen(cli.socket);
    const firstAnswer = JSON.parse(await first.firstLine) as Answer;
    const second = await run(process.execPath, [client, cli.socket]);
    expect(second.stdout.trim()).toBe('CLOSED');
    first.proc.stdin!.end();
    await waitFor(() => !alive(firstAnswer.result.pid));
    // Stopping writes out every buffered audit line.
    expect(await cli.stop()).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });

    const audit = cli
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'peerauth.connection');
    const ofFirst = audit.filter((e) => e.peerPid === first.proc.pid);
    const ofRefused = audit.filter((e) => e.peerPid !== first.proc.pid);
    expect(ofFirst.map((e) => e.decision)).toEqual(['closed']);
    expect(ofRefused).toHaveLength(1);
    expect(ofRefused[0]).toMatchObject({
      decision: 'rejected',
      reason: 'max-children (1) reached',
      peerUid: process.getuid!(),
      role: 'owner',
    });
    expect(typeof ofRefused[0]!.durationMs).toBe('number');
  });
});

describeAsRoot('peerauth exec with two users at once', () => {
  const bob = { name: 'pacli-bob', uid: 43020, gid: 43021 };
  let dir: string;
  let cli: RunningCli;
  beforeAll(async () => {
    createTestGroup('pacli-bobs', bob.gid);
    createTestUser(bob.name, { uid: bob.uid, gid: bob.gid });
    dir = tempDir();
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        people: [{ name: 'Bob', role: 'member', osUsername: bob.name }],
        roles: ['member', 'public'],
      }),
    );
    cli = await startCli(
      ['exec', '--mode', '0666', '--config', config, '--', process.execPath, echo],
      path.join(dir, 'e.sock'),
    );
  });
  afterAll(async () => {
    await cli?.stop();
    removeTestUser(bob.name);
    removeTestGroup('pacli-bobs');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('each client gets a child with its own identity', async () => {
    const [asRoot, asBob] = await Promise.all([
      ask(cli.socket),
      ask(cli.socket, { uid: bob.uid, gid: bob.gid }),
    ]);
    expect(asRoot.result.env.PEERAUTH_UID).toBe('0');
    expect(asRoot.result.env.PEERAUTH_ROLE).toBe('public');
    expect(asBob.result.env).toMatchObject({
      PEERAUTH_UID: String(bob.uid),
      PEERAUTH_GID: String(bob.gid),
      PEERAUTH_USER: bob.name,
      PEERAUTH_PERSON: 'Bob',
      PEERAUTH_ROLE: 'member',
    });
    expect(asRoot.result.pid).not.toBe(asBob.result.pid);
  });
});
