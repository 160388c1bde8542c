// npm run bench -w @peerauth/cli
// Keep-alive HTTP/1.1 requests per second, p99 latency and each proxy's CPU time per request (all its
// threads, user + system, reported by the proxy process itself), side by side in one run, alternating kinds
// every round so noise spreads evenly: the plainest Node reverse proxy (plain-proxy.mjs), an undici-based
// one (undici-proxy.mjs), Go's httputil.ReverseProxy with SO_PEERCRED (go-proxy.go, built here when `go` is
// on PATH, skipped with a line when not), `peerauth proxy` (the built CLI with its defaults, audit lines to
// /dev/null) and the upstream straight (its own CPU per request). All reach one trivial upstream on 127.0.0.1
// (upstream.mjs); the proxies listen on Unix sockets. The load comes from a small C client on epoll (load.c,
// built here with cc), one process per BENCH_CLIENTS, BENCH_CONNECTIONS connections in all. Node processes
// report their CPU time through cpu-probe.mjs (preloaded with --import, over an IPC channel), Go's on stdin.
// The guard: exits 1 when peerauth's CPU per request, as a ratio to plain's, is worse than its figure in
// bench/reference.json by more than the margin stated there. BENCH_GUARD=1 (`npm run bench:guard`) is the
// short form CI runs: plain and peerauth only, a few seconds, the generous margin.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildGo, formatUs, guard, Histogram } from '../../../scripts/bench-common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, '..', 'bin', 'peerauth.js');
const PROBE = pathToFileURL(path.join(HERE, 'cpu-probe.mjs')).href;
const REFERENCE = path.join(HERE, 'reference.json');
const GUARD = process.env.BENCH_GUARD === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (GUARD ? 3 : 5));
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? (GUARD ? 5000 : 3000));
// The guard counts requests rather than time, and every kind warms up by count as well as time: on a loaded
// machine a second serves a fraction of the requests it does on a quiet one, too few to finish the JIT's
// optimising compilation, whose threads' CPU time would then be charged to the round.
const ROUND_REQUESTS = Number(process.env.BENCH_ROUND_REQUESTS ?? (GUARD ? 8000 : 0));
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? (GUARD ? 300 : 2000));
const WARM_REQUESTS = Number(process.env.BENCH_WARM_REQUESTS ?? 20_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1);
// Targets: peerauth's CPU per request as a ratio to the plain proxy's, and its rate as a ratio to Go's.
const TARGET_CPU = 0.75;
const TARGET_VS_GO = 1.0;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacli-bench-'));
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

console.log(
  `peerauth proxy bench${GUARD ? ' (guard: short, ratios only)' : ''}: Node ${process.version}, ` +
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${os.platform()} ${os.release()}`,
);
const load = path.join(dir, 'load');
const cc = spawnSync('cc', ['-O2', '-o', load, path.join(HERE, 'load.c')], { stdio: 'inherit' });
if (cc.status !== 0) {
  console.error('bench: cannot build the load client (cc -O2 bench/load.c); install a C compiler');
  process.exit(1);
}
// BENCH_KINDS=plain,peerauth runs only the kinds named (a shared machine: measure what you compare).
const ONLY = process.env.BENCH_KINDS?.split(',').map((k) => k.trim());
const GO =
  GUARD || (ONLY && !ONLY.includes('go'))
    ? null
    : buildGo(path.join(HERE, 'go-proxy.go'), dir, 'Go httputil.ReverseProxy');

/** Reads a child's stdout as lines: the first resolves `ready`, later ones answer `ask` in turn. */
function lines(child) {
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  return { ready: next(), next };
}

/**
 * Starts one server process. Node programs get the CPU probe and an IPC channel; Go answers on stdin.
 * Resolves once it printed its first line, with { ask(command) } for "mark" and "report".
 */
function start(kind, program, args, stderr = 'inherit') {
  const isNode = program === process.execPath;
  const child = spawn(program, isNode ? ['--import', PROBE, ...args] : args, {
    stdio: [isNode ? 'ignore' : 'pipe', 'pipe', stderr, ...(isNode ? ['ipc'] : [])],
  });
  children.push(child);
  const out = lines(child);
  const ask = isNode
    ? (command) =>
        new Promise((resolve) => {
          child.once('message', resolve);
          child.send(command);
        })
    : async (command) => {
        const answer = out.next();
        child.stdin.write(`${command}\n`);
        const line = await answer;
        return line.startsWith('{') ? JSON.parse(line) : line;
      };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind}: exited with ${code} before it was ready`)));
    out.ready.then((line) => resolve({ ask, line, pid: child.pid }));
  });
}

function canConnect(socketPath) {
  return new Promise((resolve) => {
    const s = net.connect(socketPath, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (µs, user + system, all threads) of `pid` and its children, from /proc: a primary and its workers. */
function treeCpuUs(pid) {
  let ticks = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // After the command in parentheses: state, ppid, ..., utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(entry) === pid || Number(fields[1]) === pid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1e6) / CLK_TCK;
}

/** A server whose CPU is its whole process tree's (--workers): mark and report read /proc, not the probe. */
function treeMeasured(server) {
  let mark = 0;
  const ask = async (command) => {
    if (command === 'mark') {
      mark = treeCpuUs(server.pid);
      return 'ok';
    }
    return { cpuUs: treeCpuUs(server.pid) - mark };
  };
  return { ...server, ask };
}

const upstream = await start('upstream', process.execPath, [path.join(HERE, 'upstream.mjs')]);
const port = upstream.line.trim();
const socketOf = (kind) => path.join(dir, `${kind}.sock`);
const SPECS = {
  plain: {
    note: 'node:http server + http.request, keep-alive agent, headers copied, bodies piped',
    run: () =>
      start('plain', process.execPath, [path.join(HERE, 'plain-proxy.mjs'), socketOf('plain'), port]),
  },
  undici: {
    note: 'node:http server + undici Pool.stream, keep-alive, headers copied, bodies piped',
    run: () =>
      start('undici', process.execPath, [path.join(HERE, 'undici-proxy.mjs'), socketOf('undici'), port]),
  },
  // The same proxy with peerauth's 11 identity headers on every request: how much of peerauth's cost over
  // the bare undici proxy is the stamping itself (more headers to validate, write and parse).
  'undici-stamped': {
    note: 'the undici proxy, also sending the 11 identity headers peerauth sends (fixed strings)',
    run: () =>
      start('undici-stamped', process.execPath, [
        path.join(HERE, 'undici-proxy.mjs'),
        socketOf('undici-stamped'),
        port,
        'stamped',
      ]),
  },
  go: {
    note: 'Go httputil.ReverseProxy, SO_PEERCRED per connection, X-Peer-Uid stamped',
    run: () => start('go', GO, [socketOf('go'), port]),
  },
  // The audit lines (JSON, the default off a terminal) go to /dev/null, as a service's journal would take them.
  peerauth: {
    note: 'peerauth proxy, built CLI, defaults (audit at info)',
    run: () =>
      start(
        'peerauth',
        process.execPath,
        [
          CLI,
          'proxy',
          '--upstream',
          `http://127.0.0.1:${port}`,
          '--socket',
          socketOf('peerauth'),
          '--log-format',
          'json',
        ],
        'ignore',
      ),
  },
  // BENCH_BASELINE=/path/to/bin/peerauth.js: another build of the CLI (say, main's) beside this one, to
  // measure a change before/after in one run.
  baseline: {
    note: `peerauth proxy as built at ${process.env.BENCH_BASELINE ?? '(BENCH_BASELINE unset)'}, defaults`,
    run: () =>
      start(
        'baseline',
        process.execPath,
        [
          process.env.BENCH_BASELINE,
          'proxy',
          '--upstream',
          `http://127.0.0.1:${port}`,
          '--socket',
          socketOf('baseline'),
          '--log-format',
          'json',
        ],
        'ignore',
      ),
  },
  // Two processes on one socket; CPU is the primary's and its worker's together (/proc, 10 ms ticks).
  workers2: {
    note: 'peerauth proxy --workers 2, defaults (CPU: primary + worker, from /proc)',
    run: async () =>
      treeMeasured(
        await start(
          'workers2',
          process.execPath,
          [
            CLI,
            'proxy',
            '--upstream',
            `http://127.0.0.1:${port}`,
            '--socket',
            socketOf('workers2'),
            '--log-format',
            'json',
            '--workers',
            '2',
          ],
          'ignore',
        ),
      ),
  },
  direct: { note: 'the upstream straight, TCP 127.0.0.1 (CPU: the upstream process)' },
};
const KINDS = GUARD
  ? ['plain', 'peerauth']
  : [
      'plain',
      'undici',
      'undici-stamped',
      ...(GO ? ['go'] : []),
      ...(process.env.BENCH_BASELINE ? ['baseline'] : []),
      'peerauth',
      'workers2',
      'direct',
    ].filter(
      // plain is always measured: the ratios need it.
      (k) => !ONLY || k === 'plain' || ONLY.includes(k),
    );
const servers = {};
for (const kind of KINDS) {
  if (kind === 'direct') {
    servers.direct = { ...upstream, target: port };
    continue;
  }
  servers[kind] = { ...(await SPECS[kind].run()), target: socketOf(kind) };
  if (!(await canConnect(socketOf(kind)))) throw new Error(`bench: nothing listens on ${socketOf(kind)}`);
}

/** Runs the load clients against one target; resolves with the responses counted and their latencies. */
async function measure(target, ms, requests = 0) {
  const per = Math.ceil(CONNECTIONS / CLIENTS);
  const runs = [];
  for (let i = 0; i < CLIENTS; i++) {
    const args = [target, String(Math.min(per, CONNECTIONS - i * per)), String(ms)];
    if (requests) args.push(String(Math.ceil(requests / CLIENTS)));
    runs.push(
      new Promise((resolve, reject) => {
        const c = spawn(load, args);
        let out = '';
        c.stdout.on('data', (d) => {
          out += d;
        });
        c.stderr.pipe(process.stderr);
        c.on('exit', (code) => {
          const [first, histogram = ''] = out.split('\n');
          const [done, bad] = first.trim().split(' ').map(Number);
          if (code !== 0 || bad > 0)
            reject(new Error(`load client on ${target}: exit ${code}, ${bad} non-200`));
          else resolve({ done, histogram });
        });
      }),
    );
  }
  const started = performance.now();
  const results = await Promise.all(runs);
  const ms_ = performance.now() - started;
  return {
    done: results.reduce((a, r) => a + r.done, 0),
    ms: ms_,
    histograms: results.map((r) => r.histogram),
  };
}

console.log(
  `${ROUNDS} rounds of ${ROUND_REQUESTS ? `${ROUND_REQUESTS} requests (at most ${ROUND_MS} ms)` : `${ROUND_MS} ms`} per kind ` +
    `after ${WARM_MS} ms and at least ${WARM_REQUESTS} requests of warm-up, alternated, ${CONNECTIONS} keep-alive ` +
    `connections, ${CLIENTS} C client process(es)`,
);
for (const kind of KINDS) {
  const warmed = (await measure(servers[kind].target, WARM_MS)).done;
  if (warmed < WARM_REQUESTS) await measure(servers[kind].target, 30_000, WARM_REQUESTS - warmed);
}

const totals = Object.fromEntries(KINDS.map((k) => [k, { done: 0, ms: 0, cpuUs: 0 }]));
const latency = Object.fromEntries(KINDS.map((k) => [k, new Histogram()]));
const roundRatios = Object.fromEntries(KINDS.map((k) => [k, { rate: [], cpu: [] }]));
async function round(kinds, n) {
  const order = kinds.slice(n % kinds.length).concat(kinds.slice(0, n % kinds.length));
  const perKind = {};
  for (const kind of order) {
    const server = servers[kind];
    await server.ask('mark');
    const r = await measure(server.target, ROUND_MS, ROUND_REQUESTS);
    const { cpuUs } = await server.ask('report');
    totals[kind].done += r.done;
    totals[kind].ms += r.ms;
    totals[kind].cpuUs += cpuUs;
    for (const h of r.histograms) latency[kind].merge(h);
    perKind[kind] = { rate: r.done / r.ms, cpu: cpuUs / r.done };
  }
  for (const kind of kinds) {
    roundRatios[kind].rate.push(perKind[kind].rate / perKind.plain.rate);
    roundRatios[kind].cpu.push(perKind[kind].cpu / perKind.plain.cpu);
  }
  console.log(
    `  round ${n + 1}: ${kinds.map((k) => `${k} ${Math.round(perKind[k].rate * 1000)}/s ${perKind[k].cpu.toFixed(1)} µs`).join(', ')}`,
  );
}
for (let n = 0; n < ROUNDS; n++) await round(KINDS, n);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const rate = (k) => (totals[k].done / totals[k].ms) * 1000;
const cpu = (k) => totals[k].cpuUs / totals[k].done;
console.log(
  '\n  kind            requests/s   p99      CPU/req   CPU ratio (median of rounds)   rate ratio (median)',
);
for (const kind of KINDS) {
  const ratios =
    kind === 'plain'
      ? ''
      : `${(cpu(kind) / cpu('plain')).toFixed(2)} (${median(roundRatios[kind].cpu).toFixed(2)})`.padEnd(31) +
        `${(rate(kind) / rate('plain')).toFixed(2)} (${median(roundRatios[kind].rate).toFixed(2)})`;
  console.log(
    `  ${kind.padEnd(14)} ${Math.round(rate(kind)).toLocaleString('en').padStart(8)}/s  ` +
      `${formatUs(latency[kind].percentile(0.99)).padStart(7)}  ${cpu(kind).toFixed(1).padStart(6)} µs   ${ratios}`,
  );
}
console.log('');
for (const kind of KINDS) console.log(`  ${kind}: ${SPECS[kind].note}`);
if (!GUARD) {
  const cpuRatio = cpu('peerauth') / cpu('plain');
  console.log(
    `\n  peerauth CPU per request / plain's: ${cpuRatio.toFixed(2)} (target <= ${TARGET_CPU}: ${cpuRatio <= TARGET_CPU ? 'met' : 'NOT met'})`,
  );
  if (KINDS.includes('go')) {
    const vsGo = rate('peerauth') / rate('go');
    console.log(
      `  peerauth requests/s / Go's: ${vsGo.toFixed(2)} (target >= ${TARGET_VS_GO}: ${vsGo >= TARGET_VS_GO ? 'met' : 'NOT met'})`,
    );
  }
}

// As in the server bench: the median of per-round ratios; the short guard takes the best round and measures
// a kind found worse twice more beside plain before it fails.
const guardRatio = (k) => (GUARD ? Math.min(...roundRatios[k].cpu) : median(roundRatios[k].cpu));
let worse = guard(REFERENCE, { peerauth: guardRatio('peerauth') }, GUARD);
if (worse.length && GUARD) {
  console.log('\nguard: measuring peerauth again beside plain');
  for (let n = 0; n < 2; n++) await round(['plain', 'peerauth'], n);
  worse = guard(REFERENCE, { peerauth: guardRatio('peerauth') }, GUARD);
}
process.exit(worse.length ? 1 : 0);
