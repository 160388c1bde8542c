// npm run stress -w @peerauth/server
// The server (stress/server.mjs, its own process, real Unix socket) under load a daemon meets in the wild:
//   idle     many idle connections held open while fresh /whoami requests are answered (RSS, latency)
//   cycles   connect/close cycles: the server's open fds and RSS before and after
//   slowloris  connections that trickle their headers while others are served
//   resets   connections dropped mid-request (a Unix socket's reset: ECONNRESET on the server's side)
//   fds      600 connections before the first lookup with only 256 descriptors
//   lookups  a user lookup stuck in NSS far past its timeout, another failing, while others are served
// PEERAUTH_STRESS_SCALE=small (CI) runs small, bounded sizes; unset runs the full sizes. Prints figures;
// exits non-zero when the server crashes, a request that must succeed fails, or descriptors leak.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SMALL = process.env.PEERAUTH_STRESS_SCALE === 'small';
const SIZES = SMALL
  ? { idle: 1_000, fresh: 200, cycles: 5_000, slowloris: 100, resets: 500, flood: 600, slowMs: 3_000 }
  : {
      idle: 10_000,
      fresh: 2_000,
      cycles: 200_000,
      slowloris: 500,
      resets: 5_000,
      flood: 600,
      slowMs: 30_000,
    };
// Descriptors the server may hold after a scenario beyond what it held before it (pool workers' pipes).
const FD_SLACK = 4;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pasrv-stress-'));
  fs.chmodSync(dir, 0o755);
  const results = [];
  const scenarios = [
    ['idle', idleScenario],
    ['cycles', cyclesScenario],
    ['slowloris', slowlorisScenario],
    ['resets', resetsScenario],
    ['fds', fdExhaustionScenario],
    ['lookups', lookupsScenario],
  ];
  // `npm run stress -- resets idle` runs only the scenarios named.
  const only = process.argv.slice(2);
  if (only.length)
    scenarios.splice(0, scenarios.length, ...scenarios.filter(([name]) => only.includes(name)));
  console.log(`peerauth stress (${SMALL ? 'small' : 'full'} sizes): ${JSON.stringify(SIZES)}`);
  for (const [name, run] of scenarios) {
    const started = Date.now();
    let verdict;
    try {
      verdict = await withDeadline(run(path.join(dir, `${name}.sock`), dir), SMALL ? 120_000 : 900_000, name);
    } catch (err) {
      verdict = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`${verdict.ok ? 'ok  ' : 'FAIL'} ${name} (${secs} s): ${verdict.detail}`);
    results.push(verdict.ok);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const failed = results.filter((ok) => !ok).length;
  console.log(`stress: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

function withDeadline(promise, ms, name) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts stress/server.mjs; `fdLimit` and `env` apply to it only. */
async function startServer(socketPath, { fdLimit, env } = {}) {
  const limit = fdLimit === undefined ? '"$(ulimit -Hn)"' : String(fdLimit);
  const proc = spawn(
    'sh',
    [
      '-c',
      `ulimit -n ${limit} && exec "$0" "$@"`,
      process.execPath,
      path.join(HERE, 'server.mjs'),
      socketPath,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env },
  );
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  await Promise.race([
    (async () => {
      while (!out.includes('ready')) await sleep(20);
    })(),
    exited.then((e) => {
      throw new Error(`server exited (${e.code ?? e.signal}) before listening: ${out}${err}`);
    }),
  ]);
  return {
    pid: proc.pid,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    stderr: () => err,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const e = await exited;
      return e;
    },
  };
}

function stats(pid) {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { fds, rssMb: Math.round(rss / 102.4) / 10 };
}

/** One GET /whoami on a new connection, retried `tries` times on a full backlog; resolves with the status code (0 when none came) and the time. */
function whoami(socketPath, tries = 0) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const c = net.connect(socketPath);
    let data = '';
    let connected = false;
    c.on('connect', () => {
      connected = true;
      c.write('GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    c.on('data', (d) => {
      data += d;
    });
    let busy = false;
    c.on('error', (err) => {
      busy = err.code === 'EAGAIN' && !connected && tries > 0;
    });
    c.on('close', () => {
      // A full backlog (clients that already reset but are not accepted yet) answers EAGAIN at once where
      // TCP would queue: that is the listener being behind, not a request refused, so try again.
      if (busy) {
        setTimeout(() => whoami(socketPath, tries - 1).then(resolve), 10);
        return;
      }
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0), ms });
    });
  });
}

async function freshRequests(socketPath, count) {
  const times = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const r = await whoami(socketPath);
    if (r.status === 200) times.push(r.ms);
    else failed++;
  }
  times.sort((a, b) => a - b);
  const pct = (p) =>
    times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2) : '-';
  return {
    failed,
    summary: `${count} fresh /whoami: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, failed ${failed}`,
  };
}

/**
 * Connects, retrying while the listen backlog is full: a Unix socket answers EAGAIN at once where TCP
 * would queue the SYN. Resolves with the socket, or null on any other error.
 */
function connect(socketPath, tries = 200) {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('error', (err) => {
      if (err.code === 'EAGAIN' && tries > 0)
        setTimeout(() => connect(socketPath, tries - 1).then(resolve), 10);
      else resolve(null);
    });
    c.once('connect', () => resolve(c));
  });
}

/** Opens `count` connections in batches; resolves with the open sockets. */
async function openIdle(socketPath, count, onOpen) {
  const sockets = [];
  for (let i = 0; i < count; i += 250) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 250); j++) batch.push(connect(socketPath));
    for (const c of await Promise.all(batch)) {
      if (!c) continue;
      c.on('error', () => {});
      onOpen?.(c);
      sockets.push(c);
    }
  }
  return sockets;
}

/**
 * Waits (bounded, 10 s) until the server's descriptor count is back to `baseline` or has stopped changing:
 * right after the clients are done the server may still be accepting and closing their connections, so a
 * count taken at once measures the backlog, not a leak.
 */
async function settleFds(pid, baseline) {
  let now = stats(pid).fds;
  let steady = 0;
  for (let i = 0; i < 100 && now > baseline && steady < 10; i++) {
    await sleep(100);
    const next = stats(pid).fds;
    steady = next === now ? steady + 1 : 0;
    now = next;
  }
  return now;
}

async function idleScenario(socketPath) {
  const server = await startServer(socketPath);
  try {
    await whoami(socketPath);
    const before = stats(server.pid);
    const idle = await openIdle(socketPath, SIZES.idle);
    await sleep(500);
    const held = stats(server.pid);
    const fresh = await freshRequests(socketPath, SIZES.fresh);
    const during = stats(server.pid);
    for (const c of idle) c.destroy();
    const fdsAfter = await settleFds(server.pid, before.fds);
    const ok =
      server.alive() && idle.length === SIZES.idle && fresh.failed === 0 && fdsAfter <= before.fds + FD_SLACK;
    return {
      ok,
      detail:
        `${idle.length}/${SIZES.idle} idle held; RSS ${before.rssMb} MB -> ${held.rssMb} MB with them open ` +
        `(${during.rssMb} MB after the fresh requests); ${fresh.summary}; fds ${before.fds} -> ${held.fds} -> ${fdsAfter}`,
    };
  } finally {
    await server.stop();
  }
}

async function cyclesScenario(socketPath) {
  const server = await startServer(socketPath);
  try {
    await whoami(socketPath);
    const before = stats(server.pid);
    let next = 0;
    let errors = 0;
    const worker = async () => {
      while (next < SIZES.cycles) {
        next++;
        await new Promise((resolve) => {
          const c = net.connect(socketPath);
          c.once('connect', () => c.end());
          c.on('error', () => {
            errors++;
            resolve();
          });
          c.once('close', resolve);
        });
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const fdsAfter = await settleFds(server.pid, before.fds);
    const after = stats(server.pid);
    const check = await whoami(socketPath);
    const ok = server.alive() && check.status === 200 && fdsAfter <= before.fds + FD_SLACK;
    return {
      ok,
      detail:
        `${SIZES.cycles} connect/close cycles (${errors} errors): server fds ${before.fds} -> ${fdsAfter}, ` +
        `RSS ${before.rssMb} MB -> ${after.rssMb} MB`,
    };
  } finally {
    await server.stop();
  }
}

async function slowlorisScenario(socketPath) {
  const server = await startServer(socketPath);
  try {
    await whoami(socketPath);
    const before = stats(server.pid);
    const slow = await openIdle(socketPath, SIZES.slowloris, (c) =>
      c.write('GET /whoami HTTP/1.1\r\nHost: x\r\n'),
    );
    const drip = setInterval(() => {
      for (const c of slow) if (!c.destroyed) c.write('X-A: b\r\n');
    }, 500);
    let fresh;
    try {
      fresh = await freshRequests(socketPath, Math.max(50, SIZES.fresh / 4));
    } finally {
      clearInterval(drip);
    }
    for (const c of slow) c.destroy();
    const fdsAfter = await settleFds(server.pid, before.fds);
    const ok = server.alive() && fresh.failed === 0 && fdsAfter <= before.fds + FD_SLACK;
    return {
      ok,
      detail: `${slow.length} slowloris connections trickling headers; meanwhile ${fresh.summary}; fds ${before.fds} -> ${fdsAfter}`,
    };
  } finally {
    await server.stop();
  }
}

async function resetsScenario(socketPath) {
  const server = await startServer(socketPath);
  try {
    await whoami(socketPath);
    const before = stats(server.pid);
    let next = 0;
    const worker = async () => {
      while (next < SIZES.resets) {
        const n = next++;
        await new Promise((resolve) => {
          const c = net.connect(socketPath);
          c.on('error', () => {});
          c.once('close', resolve);
          // Half a request, then gone at different moments: before or after the server reads it. (Unix
          // sockets have no RST; closing with data unread makes the server's next read ECONNRESET.)
          c.once('connect', () => {
            c.write(n % 2 ? 'GET /whoami HTTP/1.1\r\nHo' : 'GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n');
            setTimeout(() => c.destroy(), n % 3);
          });
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const fdsAfter = await settleFds(server.pid, before.fds);
    // The resets leave the backlog full of connections the listener has not accepted yet.
    const check = await whoami(socketPath, 200);
    const ok = server.alive() && check.status === 200 && fdsAfter <= before.fds + FD_SLACK;
    return {
      ok,
      detail:
        `${SIZES.resets} connections closed mid-request; server fds ${before.fds} -> ${fdsAfter}; ` +
        `then /whoami answered ${check.status}${server.alive() ? '' : `; server died: ${server.stderr().slice(-300)}`}`,
    };
  } finally {
    await server.stop();
  }
}

async function fdExhaustionScenario(socketPath) {
  const server = await startServer(socketPath, { fdLimit: 256 });
  // No request yet: the pool starts while these arrive.
  const flood = await Promise.all(Array.from({ length: SIZES.flood }, () => whoami(socketPath)));
  const answered = flood.filter((r) => r.status === 200).length;
  let status = 0;
  for (let i = 0; i < 50 && status !== 200 && server.alive(); i++) {
    status = (await whoami(socketPath)).status;
    if (status !== 200) await sleep(200);
  }
  const alive = server.alive();
  const died = alive ? '' : `; server died: ${server.stderr().slice(-300)}`;
  await server.stop();
  const left = fs.existsSync(socketPath);
  return {
    ok: alive && status === 200 && !left,
    detail:
      `ulimit -n 256, ${SIZES.flood} connections before the first lookup: ${answered} answered, the rest ` +
      `refused; afterwards /whoami ${status}${died}${left ? '; socket left behind after stop' : ''}`,
  };
}

function nssFaultLibrary(dir) {
  const out = path.join(dir, 'libnss_fault.so');
  const source = path.join(HERE, '../../../test-fixtures/nss-fault/nss_fault.c');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, source, '-ldl'], { stdio: 'pipe' });
  fs.chmodSync(out, 0o755);
  return out;
}

/** GET /whoami from a process running as `uid` (the slow and failing lookups are for uids 1 and 2). */
function whoamiAs(socketPath, uid) {
  const code = `const c=require('net').connect(process.argv[1]);let d='';c.on('connect',()=>c.write('GET /whoami HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));c.on('data',x=>d+=x);c.on('error',()=>{});c.on('close',()=>process.stdout.write(d.split(' ')[1]||'0'))`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['-e', code, socketPath], {
      uid,
      gid: uid,
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: '/',
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.once('exit', () => resolve(Number(out) || 0));
  });
}

async function lookupsScenario(socketPath, dir) {
  if (process.getuid?.() !== 0 || process.platform !== 'linux')
    return { ok: true, detail: 'skipped: needs root on Linux to connect as other uids' };
  const env = {
    ...process.env,
    LD_PRELOAD: nssFaultLibrary(dir),
    PEERAUTH_NSS_FAULTS: `getpwuid_r=1:sleep${SIZES.slowMs};getpwuid_r=2:EIO`,
  };
  const server = await startServer(socketPath, { env });
  try {
    const slow = whoamiAs(socketPath, 1);
    const failing = await whoamiAs(socketPath, 2);
    // Past the moment the stuck lookup returns into its abandoned worker, with requests throughout.
    const until = Date.now() + SIZES.slowMs + 3_000;
    let served = 0;
    let failed = 0;
    while (Date.now() < until && server.alive()) {
      const r = await whoami(socketPath);
      if (r.status === 200) served++;
      else failed++;
      await sleep(100);
    }
    const slowStatus = await slow;
    const ok = server.alive() && failed === 0 && served > 0;
    return {
      ok,
      detail:
        `uid 1 lookup stuck ${SIZES.slowMs} ms (answered ${slowStatus} after the pool timeout), uid 2 lookup EIO ` +
        `(answered ${failing}); meanwhile ${served} requests served, ${failed} failed; server ${server.alive() ? 'alive' : `DIED: ${server.stderr().slice(-300)}`}`,
    };
  } finally {
    await server.stop();
  }
}

// Thousands of sockets need more than the usual 1024 descriptors: run again with the soft limit raised
// to the hard one.
if (process.env.PEERAUTH_STRESS_CHILD !== '1') {
  const child = spawn(
    'sh',
    [
      '-c',
      'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"',
      process.execPath,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, PEERAUTH_STRESS_CHILD: '1' } },
  );
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await main();
}
