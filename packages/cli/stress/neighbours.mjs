// npm run stress -w @peerauth/cli (after the differential run)
// Noisy neighbours: one local user (nobody) tries to shut out, slow down or outlive its welcome for another
// (daemon), against the real `peerauth` CLI with its default limits:
//   hold       the attacker holds twice the server's descriptors in idle connections; the victim asks /whoami
//   reserved   the total filled (as by many uids): the victim is refused, root still served
//   idle       connections that never send a byte, closed by --idle-timeout
//   stderr     an exec child writing one huge stderr line: the server's peak memory and longest log line
//   escapes    exec children leaving setsid'd processes behind: how many outlive their connection
// PEERAUTH_STRESS_SCALE=small (CI) runs small, bounded sizes. Needs root on Linux (other users, prlimit);
// elsewhere it says so and exits 0. Prints figures; exits non-zero when a promise does not hold.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const SMALL = process.env.PEERAUTH_STRESS_SCALE === 'small';
const SIZES = SMALL
  ? { fds: 256, victimTries: 20, stderrMiB: 128, escapes: 10 }
  : { fds: 1024, victimTries: 100, stderrMiB: 1_024, escapes: 100 };
const ATTACKER = { uid: 65534, gid: 65534 };
const VICTIM = { uid: 1, gid: 1 };

const asUser = (who) => ['setpriv', `--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (process.platform !== 'linux' || process.getuid() !== 0) {
    console.log('noisy neighbours: skipped (needs root on Linux to act as other users)');
    return 0;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacli-neighbours-'));
  fs.chmodSync(dir, 0o755);
  console.log(`noisy neighbours (${SMALL ? 'small' : 'full'} sizes): ${JSON.stringify(SIZES)}`);
  const results = [];
  const scenarios = [
    ['hold', holdScenario],
    ['reserved', reservedScenario],
    ['idle', idleScenario],
    ['stderr', stderrScenario],
    ['escapes', escapesScenario],
  ];
  // `node stress/neighbours.mjs hold escapes` runs only the scenarios named.
  const only = process.argv.slice(2);
  for (const [name, run] of only.length ? scenarios.filter(([n]) => only.includes(n)) : scenarios) {
    let verdict;
    const started = Date.now();
    try {
      verdict = await run(path.join(dir, `${name}.sock`));
    } catch (err) {
      verdict = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`${verdict.ok ? 'ok  ' : 'FAIL'} ${name} (${secs} s): ${verdict.detail}`);
    results.push(verdict.ok);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const failed = results.filter((ok) => !ok).length;
  console.log(`noisy neighbours: ${results.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** `peerauth <args>` with `fds` descriptors; resolves once it listens. */
async function startCli(args, socket, fds = SIZES.fds) {
  const [command, ...rest] = args;
  const child = spawn(
    'prlimit',
    [
      `--nofile=${fds}:${fds}`,
      process.execPath,
      BIN,
      command,
      '--socket',
      socket,
      '--mode',
      '0666',
      '--log-format',
      'json',
      ...rest,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let longest = 0;
  let partial = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  // Only what the scenarios read is kept: the lines' count by reason and the longest line's length.
  const reasons = new Map();
  const messages = new Map();
  child.stderr.on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      longest = Math.max(longest, line.length);
      const reason = /"reason":"([^"]*)"/.exec(line)?.[1];
      if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
      if (msg) messages.set(msg, (messages.get(msg) ?? 0) + 1);
    }
    err = (err + d).slice(-2000);
  });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  while (!out.includes('listening on')) {
    if (child.exitCode !== null) throw new Error(`peerauth ${command} exited: ${err}`);
    await sleep(20);
  }
  // prlimit execs peerauth: its pid is the server's.
  return {
    pid: child.pid,
    reasons,
    messages,
    longest: () => longest,
    count: (prefix) => [...reasons].filter(([r]) => r.startsWith(prefix)).reduce((n, [, c]) => n + c, 0),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A process of `who` holding `n` connections open (sending nothing) until killed; resolves once they are made. */
async function hold(socket, n, who = ATTACKER) {
  const script = `
const net = require('node:net');
const held = [];
(async () => {
  for (let i = 0; i < ${n}; i++)
    await new Promise((resolve) => { const s = net.connect(${JSON.stringify(socket)}, resolve); s.on('error', resolve); held.push(s); });
  process.stdout.write('held\\n');
})();
setInterval(() => {}, 1000);`;
  const proc = spawn(asUser(who)[0], [...asUser(who).slice(1), process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  while (!out.includes('held')) {
    if (proc.exitCode !== null) throw new Error('the holding process ended');
    await sleep(20);
  }
  return proc;
}

/** curl /whoami as `who`: the HTTP status ('000' when the connection was closed). */
function whoami(socket, who) {
  const argv = [
    ...(who ? asUser(who) : []),
    'curl',
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '5',
    '--unix-socket',
    socket,
    'http://localhost/whoami',
  ];
  return new Promise((resolve) => execFile(argv[0], argv.slice(1), (_, stdout) => resolve(String(stdout))));
}

async function served(socket, who, tries) {
  let ok = 0;
  for (let i = 0; i < tries; i++) if ((await whoami(socket, who)) === '200') ok++;
  return ok;
}

function rssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    now: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024,
    peak: Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024,
  };
}

async function holdScenario(socket) {
  const cli = await startCli(['serve', '--idle-timeout', '0'], socket);
  try {
    await whoami(socket, VICTIM);
    const attacker = await hold(socket, 2 * SIZES.fds);
    const ok = await served(socket, VICTIM, SIZES.victimTries);
    // Connections still in the listen backlog are refused as the server reaches them.
    const deadline = Date.now() + 30_000;
    let seen = -1;
    while (cli.count('maxConnectionsPerUid') !== seen && Date.now() < deadline) {
      seen = cli.count('maxConnectionsPerUid');
      await sleep(500);
    }
    const refused = cli.count('maxConnectionsPerUid');
    attacker.kill('SIGKILL');
    return {
      // A connect the full listen backlog turned away never reaches the server: at most that many refused.
      ok: ok === SIZES.victimTries && refused > SIZES.fds && refused <= 2 * SIZES.fds - 64,
      detail: `attacker held ${2 * SIZES.fds} connections against ${SIZES.fds} descriptors: ${refused} refused (per-uid limit 64); victim served ${ok} of ${SIZES.victimTries}; server RSS ${rssMb(cli.pid).now.toFixed(0)} MB`,
    };
  } finally {
    await cli.stop();
  }
}

async function reservedScenario(socket) {
  const total = 100;
  const cli = await startCli(
    ['serve', '--idle-timeout', '0', '--max-connections-per-uid', '0', '--max-connections', String(total)],
    socket,
  );
  try {
    await whoami(socket, VICTIM);
    const attacker = await hold(socket, 2 * total);
    const victim = await served(socket, VICTIM, 5);
    const root = await served(socket, undefined, 5);
    attacker.kill('SIGKILL');
    return {
      ok: victim === 0 && root === 5,
      detail: `${2 * total} connections against --max-connections ${total} (3 reserved): victim served ${victim} of 5, root ${root} of 5`,
    };
  } finally {
    await cli.stop();
  }
}

async function idleScenario(socket) {
  const cli = await startCli(['serve', '--idle-timeout', '1000'], socket);
  try {
    await whoami(socket, VICTIM);
    const started = Date.now();
    // As many as one uid may hold by default.
    const want = 64;
    const attacker = await hold(socket, want);
    while (cli.count('idle: sent nothing') < want && Date.now() - started < 30_000) await sleep(50);
    const closed = cli.count('idle: sent nothing');
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const ok = await served(socket, VICTIM, 5);
    attacker.kill('SIGKILL');
    return {
      ok: closed === want && ok === 5,
      detail: `${want} silent connections: ${closed} closed by --idle-timeout 1000 within ${secs} s; victim served ${ok} of 5`,
    };
  } finally {
    await cli.stop();
  }
}

async function stderrScenario(socket) {
  const child = `read n; head -c "$n" /dev/zero | tr '\\0' a >&2; echo >&2; echo done >&2`;
  const cli = await startCli(['exec', '--', 'sh', '-c', child], socket, 1024);
  try {
    const before = rssMb(cli.pid).peak;
    const bytes = SIZES.stderrMiB * 1024 * 1024;
    await new Promise((resolve, reject) => {
      const sock = net.connect(socket, () => sock.end(`${bytes}\n`));
      sock.on('data', () => {});
      sock.on('close', resolve);
      sock.on('error', reject);
    });
    const deadline = Date.now() + 120_000;
    while (!cli.messages.get('child exited') && Date.now() < deadline) await sleep(50);
    const growth = rssMb(cli.pid).peak - before;
    const truncated = cli.messages.get('child stderr line truncated') ?? 0;
    return {
      // Bounded, the growth is chunks awaiting collection (tens of MB whatever the size); held, the line itself.
      ok: truncated === 1 && cli.longest() < 9_000 && growth < 100,
      detail: `one ${SIZES.stderrMiB} MiB stderr line: longest log line ${cli.longest()} bytes, peak RSS +${growth.toFixed(0)} MB`,
    };
  } finally {
    await cli.stop();
  }
}

function aliveSleeps(pids) {
  return pids.filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

async function escapesScenario(socket) {
  const cli = await startCli(
    [
      'exec',
      '--max-children',
      String(SIZES.escapes),
      '--',
      'sh',
      '-c',
      'setsid sleep 300 & echo $!; exec cat',
    ],
    socket,
    1024,
  );
  const pids = [];
  try {
    // A first connection refused while the server warms up is no part of this measure.
    for (let i = 0; i < 10 && !(await whoamiExec(socket)); i++) await sleep(200);
    for (let i = 0; i < SIZES.escapes; i++) {
      const pid = await new Promise((resolve, reject) => {
        const sock = net.connect(socket);
        sock.on('error', reject);
        sock.once('data', (d) => {
          resolve(Number(String(d).trim()));
          sock.destroy();
        });
        sock.on('close', () => reject(new Error('closed before the child answered')));
      });
      pids.push(pid);
    }
    const deadline = Date.now() + 30_000;
    while (aliveSleeps(pids).length > 0 && Date.now() < deadline) await sleep(100);
    const left = aliveSleeps(pids).length;
    // Every slot free again: as many connections at once as --max-children allows are served.
    const again = await whoamiExec(socket);
    return {
      ok: left === 0 && again,
      detail: `${SIZES.escapes} connections each leaving a setsid'd sleep: ${left} outlived their connection; slots free again: ${again}`,
    };
  } finally {
    await cli.stop();
    for (const pid of aliveSleeps(pids)) process.kill(pid, 'SIGKILL');
  }
}

function whoamiExec(socket) {
  return new Promise((resolve) => {
    const sock = net.connect(socket);
    sock.on('error', () => resolve(false));
    sock.once('data', () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('close', () => resolve(false));
  });
}

process.exitCode = await main();
