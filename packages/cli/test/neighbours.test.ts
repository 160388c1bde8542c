// One local user holding connections must not shut out another. The attacker (nobody) opens many
// connections and sends nothing; the victim (daemon) must still be served. The server runs with 256
// descriptors, as a small service would: without a per-uid limit the attacker held all of them.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { HOLDER, type RunningCli, run, setprivArgs, startCli, tempDir, waitFor } from './helpers.js';

const ATTACKER = { uid: 65534, gid: 65534 };
const VICTIM = { uid: 1, gid: 1 };
const FDS = 256;

const procs: ChildProcess[] = [];
const clis: RunningCli[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const cli of clis) await cli.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(args: string[]): Promise<RunningCli> {
  const dir = tempDir();
  dirs.push(dir);
  const cli = await startCli(['serve', '--mode', '0666', ...args], path.join(dir, 's.sock'), {
    prefix: ['prlimit', `--nofile=${FDS}:${FDS}`],
  });
  clis.push(cli);
  return cli;
}

/** The attacker's connections, held open; resolves once it has made them all. */
async function hold(socket: string, n: number): Promise<ChildProcess> {
  const proc = spawn(
    'setpriv',
    [...setprivArgs(ATTACKER), process.execPath, '-e', HOLDER, socket, String(n)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  await waitFor(() => out.includes('held'), 30_000);
  return proc;
}

async function whoamiAs(socket: string, as: { uid: number; gid: number } | undefined): Promise<string> {
  const r = await run(
    'curl',
    ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socket, 'http://localhost/whoami'],
    as,
  );
  return r.stdout;
}

const audit = (cli: RunningCli) =>
  cli
    .stderr()
    .trimEnd()
    .split('\n')
    // A line still being written is skipped until it is whole.
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describeAsRoot('noisy neighbours: one user holding connections', () => {
  it('by default one uid holds at most 64 connections; another user is still served', async () => {
    const cli = await serve(['--idle-timeout', '0']);
    // Served once first, so the pool runs (its start needs descriptors too) and the attack meets a warm
    // server: before the limit, the victim then got 000 five times of five.
    expect(await whoamiAs(cli.socket, VICTIM)).toBe('200');
    const attacker = await hold(cli.socket, 2 * FDS);
    // Every connection over the limit is refused with one audit line naming the limit and the uid.
    await waitFor(
      () =>
        audit(cli).filter((l) => String(l.reason).startsWith('maxConnectionsPerUid (64)')).length ===
        2 * FDS - 64,
      30_000,
    );
    const refused = audit(cli).find((l) => String(l.reason).startsWith('maxConnectionsPerUid'));
    expect(refused).toMatchObject({ decision: 'rejected', peerUid: ATTACKER.uid });
    expect(refused?.reason).toBe(
      `maxConnectionsPerUid (64) reached: uid ${ATTACKER.uid} has 64 connections open`,
    );
    for (let i = 0; i < 5; i++) expect(await whoamiAs(cli.socket, VICTIM)).toBe('200');
    attacker.kill('SIGKILL');
    expect(await cli.stop()).toBe(0);
  }, 60_000);

  it('many uids at the limit still leave the reserved slots to root and the server user', async () => {
    // No per-uid limit: the attacker stands for many uids (a user's subordinate ids) filling the total.
    const cli = await serve([
      '--idle-timeout',
      '0',
      '--max-connections-per-uid',
      '0',
      '--max-connections',
      '40',
    ]);
    await hold(cli.socket, 60);
    const reason = `only the 3 reservedConnections of maxConnections (40) are left, kept for root and the server's own user: 37 admitted connections are open`;
    await waitFor(() => audit(cli).filter((l) => l.reason === reason).length === 60 - 37, 30_000);
    // Refused after its identity is known: serve answers 403 (refusal 'http') and closes.
    expect(await whoamiAs(cli.socket, VICTIM)).toBe('403');
    expect(await whoamiAs(cli.socket, undefined)).toBe('200');
    expect(await cli.stop()).toBe(0);
  }, 60_000);

  it('a connection that sends nothing is closed after --idle-timeout, with the reason in its audit line', async () => {
    const cli = await serve(['--idle-timeout', '300']);
    await hold(cli.socket, 3);
    await waitFor(() => audit(cli).filter((l) => l.reason === 'idle: sent nothing in 300 ms').length === 3);
    expect(
      audit(cli)
        .filter((l) => l.reason === 'idle: sent nothing in 300 ms')
        .map((l) => l.decision),
    ).toEqual(['closed', 'closed', 'closed']);
    // A client that speaks is not idle.
    expect(await whoamiAs(cli.socket, VICTIM)).toBe('200');
    expect(await cli.stop()).toBe(0);
  }, 60_000);
});
