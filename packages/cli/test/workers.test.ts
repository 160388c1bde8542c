// --workers: several processes serve one socket with one audit stream, per-uid limits that hold whichever
// process accepted, one shutdown, and a socket file made and removed once.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { HOLDER, type RunningCli, runCli, setprivArgs, startCli, tempDir, waitFor } from './helpers.js';
import { spawnActivated } from './socket-activation.js';

const NOBODY = { uid: 65534, gid: 65534 };

const dirs: string[] = [];
const clis: RunningCli[] = [];
const procs: ChildProcess[] = [];
const seenWorkers = new Set<number>();
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const cli of clis) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  // A worker left by a failed test (they end with their primary; this is the last resort).
  for (const pid of seenWorkers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes whose parent is `pid` (from /proc: the workers of a primary). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) in parentheses: state, then ppid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  for (const child of out) seenWorkers.add(child);
  return out;
}

async function serve(args: string[]): Promise<RunningCli> {
  const dir = tempDir('pawk-');
  dirs.push(dir);
  // At debug, so that every admitted connection has its 'accepted' line as well as its 'closed' line.
  const cli = await startCli(['serve', '--mode', '0666', ...args], path.join(dir, 's.sock'), {
    env: { ...process.env, PEERAUTH_LOG_LEVEL: 'debug' },
  });
  clis.push(cli);
  return cli;
}

const lines = (cli: RunningCli) =>
  cli
    .stderr()
    .split('\n')
    .filter((l) => l !== '');
const audit = (cli: RunningCli) =>
  lines(cli)
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** One GET /whoami on its own connection; resolves with the status. */
function whoami(socket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path: '/whoami', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/** One GET / on its own connection; resolves with the body. */
function get(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

async function hold(socket: string, n: number): Promise<ChildProcess> {
  const proc = spawn('setpriv', [...setprivArgs(NOBODY), process.execPath, '-e', HOLDER, socket, String(n)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  await waitFor(() => out.includes('held'), 30_000);
  return proc;
}

describe('--workers: the flag', () => {
  it('refuses a value that is not a whole number >= 1 or auto, with PEERAUTH_WORKERS_INVALID (exit 1, as every count)', async () => {
    for (const value of ['0', 'two', '1.5', '', '1e1', '0x4', ' 3']) {
      const r = await runCli(['serve', '--socket', '/nonexistent/s.sock', '--workers', value]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `PEERAUTH_WORKERS_INVALID: --workers must be a whole number >= 1 or "auto", got "${value}"`,
      );
    }
  });

  it('refuses --tls-listen with more than one worker, with PEERAUTH_WORKERS_UNSUPPORTED (exit 2)', async () => {
    const r = await runCli([
      'serve',
      '--socket',
      '/nonexistent/s.sock',
      '--workers',
      '2',
      '--tls-listen',
      '127.0.0.1:0',
      '--svid-cert',
      '/nonexistent/cert.pem',
      '--svid-key',
      '/nonexistent/key.pem',
      '--bundle',
      'example.org=/nonexistent/bundle.pem',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PEERAUTH_WORKERS_UNSUPPORTED: --workers with --tls-listen is not supported');
  });
});

// Linux only: the workers are found through /proc, and SO_PEERCRED's audit fields are Linux's.
describe.skipIf(process.platform !== 'linux')('--workers 2 (Linux: /proc finds the workers)', () => {
  it('one audit stream: every line whole JSON, one accepted and one closed line per connection, from both processes', async () => {
    const cli = await serve(['--workers', '2']);
    const primary = cli.child.pid as number;
    expect(childrenOf(primary)).toHaveLength(1);
    const N = 400;
    let next = 0;
    const statuses: number[] = [];
    // 16 clients at a time, so both processes have connections to accept.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) {
          next++;
          statuses.push(await whoami(cli.socket));
        }
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(N);
    expect(await cli.stop()).toBe(0);
    const all = lines(cli);
    // Every line of the stream parses: no line was cut or spliced into another.
    const parsed = all.map((l) => JSON.parse(l) as Record<string, unknown>);
    const connections = parsed.filter((l) => l.event === 'peerauth.connection');
    expect(connections.filter((l) => l.decision === 'accepted')).toHaveLength(N);
    expect(connections.filter((l) => l.decision === 'closed')).toHaveLength(N);
    // Both processes served (and logged through the one stream).
    expect(new Set(connections.map((l) => l.pid)).size).toBe(2);
    expect(fs.existsSync(cli.socket)).toBe(false);
  }, 120_000);

  it('pretty lines too: each whole, from both processes, one per connection', async () => {
    const cli = await serve(['--workers', '2', '--log-format', 'pretty']);
    const N = 120;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          next++;
          expect(await whoami(cli.socket)).toBe(200);
        }
      }),
    );
    expect(await cli.stop()).toBe(0);
    const closed = lines(cli).filter((l) => l.includes('peer connection closed'));
    expect(closed).toHaveLength(N);
    const pids = new Set<string>();
    for (const line of closed) {
      // time, level, (peerauth/pid), the message, then the fields as one JSON object: nothing spliced in.
      const m = /^\[[\d:.]+\] INFO \(peerauth\/(\d+)\): peer connection closed (\{.*\})$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(JSON.parse(m?.[2] as string)).toMatchObject({
        event: 'peerauth.connection',
        decision: 'closed',
      });
      pids.add(m?.[1] as string);
    }
    expect(pids.size).toBe(2);
  }, 120_000);

  it('proxy --workers 2: both processes forward with the caller identity stamped', async () => {
    const upstream = http.createServer((req, res) => res.end(String(req.headers['x-peerauth-uid'])));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = upstream.address() as { port: number };
      const dir = tempDir('pawk-');
      dirs.push(dir);
      const cli = await startCli(
        ['proxy', '--upstream', `http://127.0.0.1:${port}`, '--workers', '2'],
        path.join(dir, 'p.sock'),
      );
      clis.push(cli);
      const N = 60;
      let next = 0;
      const bodies: string[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < N) {
            next++;
            bodies.push(await get(cli.socket));
          }
        }),
      );
      expect(bodies).toEqual(Array(N).fill(String(process.getuid?.())));
      expect(await cli.stop()).toBe(0);
      const closed = audit(cli).filter((l) => l.decision === 'closed');
      expect(closed).toHaveLength(N);
      expect(new Set(closed.map((l) => l.pid)).size).toBe(2);
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  }, 120_000);

  it('SIGTERM to the primary drains and stops every worker, exit 0, and the socket file goes once', async () => {
    const cli = await serve(['--workers', '3']);
    const primary = cli.child.pid as number;
    const workers = childrenOf(primary);
    expect(workers).toHaveLength(2);
    expect(fs.statSync(cli.socket).isSocket()).toBe(true);
    expect(await whoami(cli.socket)).toBe(200);
    expect(await cli.stop()).toBe(0);
    for (const pid of workers) expect(alive(pid)).toBe(false);
    expect(fs.existsSync(cli.socket)).toBe(false);
    // Each process said it was shutting down, in the one stream.
    const down = audit(cli).filter((l) => l.msg === 'shutting down');
    expect(new Set(down.map((l) => l.pid))).toEqual(new Set([primary, ...workers]));
  }, 60_000);

  it('no worker outlives a primary that is killed', async () => {
    const cli = await serve(['--workers', '2']);
    const workers = childrenOf(cli.child.pid as number);
    expect(workers).toHaveLength(1);
    cli.child.kill('SIGKILL');
    await cli.exited;
    await waitFor(() => workers.every((pid) => !alive(pid)), 20_000);
  }, 60_000);

  it('a worker that dies stops the whole service: a line naming it, the socket file removed, exit 1', async () => {
    const cli = await serve(['--workers', '2']);
    const [worker] = childrenOf(cli.child.pid as number);
    process.kill(worker as number, 'SIGKILL');
    expect(await cli.exited).toBe(1);
    const said = audit(cli).find((l) => String(l.msg).includes('exited unexpectedly'));
    expect(said).toMatchObject({ level: 50, worker, signal: 'SIGKILL' });
    expect(cli.stderr()).toContain(
      `peerauth: PEERAUTH_WORKER_EXITED: worker ${worker} exited unexpectedly (signal SIGKILL)`,
    );
    expect(fs.existsSync(cli.socket)).toBe(false);
  }, 60_000);
});

// Linux only: socket activation (LISTEN_FDS) is systemd's, and the workers are found through /proc.
describe.skipIf(process.platform !== 'linux')('--workers 2 under socket activation (Linux)', () => {
  it('the workers serve the activation socket too; the file stays, as systemd made it', async () => {
    const dir = tempDir('pawk-');
    dirs.push(dir);
    const socket = path.join(dir, 'a.sock');
    const child = spawnActivated('unix', socket, ['serve', '--log-format', 'json', '--workers', '2'], {
      env: { ...process.env, PEERAUTH_LOG_LEVEL: 'debug' },
    });
    procs.push(child);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => out.includes('listening on'), 30_000);
    expect(out).toContain(`peerauth serve listening on ${socket}`);
    expect(childrenOf(child.pid as number)).toHaveLength(1);
    const N = 60;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          next++;
          expect(await whoami(socket)).toBe(200);
        }
      }),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const closed = err
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.decision === 'closed');
    expect(closed).toHaveLength(N);
    expect(new Set(closed.map((l) => l.pid)).size).toBe(2);
    expect(fs.statSync(socket).isSocket()).toBe(true);
  }, 60_000);
});

describeAsRoot('--workers 2: the per-uid limit holds across workers', () => {
  it('a user at --max-connections-per-uid is refused whichever process accepts, and served again once it lets go', async () => {
    const LIMIT = 5;
    const OPENED = 30;
    const cli = await serve([
      '--workers',
      '2',
      '--idle-timeout',
      '0',
      '--max-connections-per-uid',
      String(LIMIT),
    ]);
    const nobody = () =>
      audit(cli).filter((l) => l.peerUid === NOBODY.uid && l.event === 'peerauth.connection');
    const count = (decision: string) => nobody().filter((l) => l.decision === decision).length;
    // One round: OPENED connections held; exactly the limit admitted over both processes (each counting
    // alone would admit up to twice as many), the rest refused.
    // The connections come in 6 bursts, one holder each: a process drains the whole backlog when it wakes,
    // so each burst is a new draw of which process accepts.
    const round = async (n: number) => {
      const holders: ChildProcess[] = [];
      for (let i = 0; i < 6; i++) holders.push(await hold(cli.socket, OPENED / 6));
      const holder = {
        kill: (signal: NodeJS.Signals) => {
          for (const h of holders) h.kill(signal);
        },
      };
      // Refusals (warn) go out at once, the debug 'accepted' lines with the next flush: wait for both.
      await waitFor(
        () => count('rejected') === n * (OPENED - LIMIT) && count('accepted') >= n * LIMIT,
        30_000,
      );
      expect(count('accepted')).toBe(n * LIMIT);
      return holder;
    };
    let rounds = 1;
    let holder = await round(rounds);
    const refused = nobody().filter((l) => l.decision === 'rejected');
    expect(refused[0]?.reason).toBe(
      `maxConnectionsPerUid (${LIMIT}) reached: uid ${NOBODY.uid} has ${LIMIT} connections open`,
    );
    // The lines came from both processes: the limit is not one process's own. Which process accepts is the
    // kernel's choice, and on a busy machine one may take a whole round: then another round, each held to
    // the same exact limit.
    while (new Set(nobody().map((l) => l.pid)).size < 2 && rounds < 6) {
      holder.kill('SIGKILL');
      await waitFor(() => count('closed') === rounds * LIMIT, 30_000);
      rounds++;
      holder = await round(rounds);
    }
    expect(new Set(nobody().map((l) => l.pid)).size).toBe(2);
    holder.kill('SIGKILL');
    // Its connections closed in whichever process held them: the counts are released, it is served again.
    await waitFor(() => count('closed') === rounds * LIMIT, 30_000);
    const again = await hold(cli.socket, LIMIT);
    await waitFor(() => count('accepted') === (rounds + 1) * LIMIT, 30_000);
    again.kill('SIGKILL');
    expect(await cli.stop()).toBe(0);
  }, 120_000);

  // Each process leases slots in batches and keeps the spare of a closed connection: the next round's
  // connections land in other processes than the last's, so the limit is only met exactly if the spares are
  // taken back before anyone is refused, and never exceeded while they are out.
  it('with 3 processes and spare slots left in each by earlier connections, every round admits exactly the limit', async () => {
    const LIMIT = 8;
    const EXTRA = 4;
    const cli = await serve([
      '--workers',
      '3',
      '--idle-timeout',
      '0',
      '--max-connections-per-uid',
      String(LIMIT),
    ]);
    const nobody = (decision: string) =>
      audit(cli).filter(
        (l) => l.peerUid === NOBODY.uid && l.event === 'peerauth.connection' && l.decision === decision,
      );
    const processes = () => new Set(nobody('accepted').map((l) => l.pid)).size;
    // At least 4 rounds, and more (up to 10) until every process has admitted some: which process accepts is
    // the kernel's choice, and on a busy machine one process may take round after round. Every round is held
    // to the same exact limit.
    for (let round = 1; round <= 4 || (processes() < 3 && round <= 10); round++) {
      const holder = await hold(cli.socket, LIMIT + EXTRA);
      await waitFor(
        () => nobody('rejected').length === round * EXTRA && nobody('accepted').length >= round * LIMIT,
        30_000,
      );
      expect(nobody('accepted')).toHaveLength(round * LIMIT);
      for (const refused of nobody('rejected').slice(-EXTRA))
        expect(refused.reason).toBe(
          `maxConnectionsPerUid (${LIMIT}) reached: uid ${NOBODY.uid} has ${LIMIT} connections open`,
        );
      holder.kill('SIGKILL');
      await waitFor(() => nobody('closed').length === round * LIMIT, 30_000);
    }
    // Over the rounds every process admitted some: the slots really moved between them.
    expect(processes()).toBe(3);
    expect(await cli.stop()).toBe(0);
  }, 180_000);
});
