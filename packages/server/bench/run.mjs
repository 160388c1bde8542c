// npm run bench -w @peerauth/server
// 1. Connections per second, p99 latency and the server's CPU time per connection (all its threads, user +
//    system, reported by the server process itself), side by side in one run, alternating kinds every round
//    so noise spreads evenly: plain net.Server, npm `peercred`, Python asyncio and Go with SO_PEERCRED (each
//    built or run when its tools are present, skipped with a line when not), and createPeerServer: defaults,
//    audit off, resolver path, asyncContext off. CPU per connection is what a shared, busy machine can still
//    compare from run to run; the rate moves with the machine's other load.
// 2. Extra heap per idle connection with 10,000 connections open; target < 2 KB.
// 3. The guard: exits 1 when a peerauth kind's CPU per connection, as a ratio to plain's, is worse than its
//    figure in bench/reference.json by more than the margin stated there. BENCH_GUARD=1 (`npm run
//    bench:guard`) is the short form CI runs: plain and the peerauth kinds only, a few seconds, the generous
//    margin, no heap pass.
// BENCH_KINDS (comma-separated) runs only the kinds named, beside plain; BENCH_ROUNDS, BENCH_ROUND_MS and
// BENCH_WARM_MS shorten a run.
// Every server runs in its own process (bench/server.mjs, python-server.py, go-server.go), the load in
// others (bench/client.mjs).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildGo, buildPeercred, formatUs, guard, Histogram } from '../../../scripts/bench-common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GUARD = process.env.BENCH_GUARD === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (GUARD ? 3 : 6));
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? (GUARD ? 5000 : 2000));
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? (GUARD ? 200 : 1000));
// Warm-up and (in the guard) rounds also count connections: on a loaded machine a second may serve a tenth
// of the connections it serves on a quiet one, too few to finish the JIT's optimising compilation, whose
// threads' CPU time would then be charged to the round.
const WARM_CONNECTIONS = Number(process.env.BENCH_WARM_CONNECTIONS ?? 5000);
const ROUND_CONNECTIONS = Number(process.env.BENCH_ROUND_CONNECTIONS ?? (GUARD ? 3000 : 0));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2);
const REFERENCE = path.join(HERE, 'reference.json');
// BENCH_KINDS=peer,peer-defaults: only these kinds (plain always runs: every figure is a ratio to it).
const ONLY = process.env.BENCH_KINDS ? new Set(process.env.BENCH_KINDS.split(',')) : null;
// BENCH_BASELINE=<another build's packages/server/dist>: each peerauth kind also runs on that build, as
// "<kind>@base", alternated with this one in the same rounds: a change measured side by side (never guarded).
const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : null;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pasrv-bench-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let serial = 0;

console.log(
  `peerauth server bench${GUARD ? ' (guard: short, ratios only)' : ''}: node ${process.version}, ` +
    `${os.cpus().length} CPUs, ${os.platform()} ${os.release()}`,
);
const HAS_PYTHON = !GUARD && spawnSync('python3', ['--version']).status === 0;
if (!GUARD && !HAS_PYTHON) console.log('Python asyncio: skipped, python3 not found');
const GO = GUARD ? null : buildGo(path.join(HERE, 'go-server.go'), dir, 'Go + SO_PEERCRED');
const PEERCRED = GUARD ? null : buildPeercred();
const KINDS = [
  'plain',
  ...(PEERCRED ? ['peercred'] : []),
  ...(HAS_PYTHON ? ['python'] : []),
  ...(GO ? ['go'] : []),
  'peer-defaults',
  'peer',
  'peer-resolver',
  'peer-noctx',
]
  .filter((k) => k === 'plain' || ONLY === null || ONLY.has(k))
  .flatMap((k) => (BASELINE !== null && (k.startsWith('peer-') || k === 'peer') ? [k, `${k}@base`] : [k]));
const FOREIGN = new Set(['python', 'go']);
const HEAP_KINDS = KINDS.filter((k) => !FOREIGN.has(k) && k !== 'peercred');
const NOTES = {
  plain: 'net.Server',
  peercred: 'net.Server + npm peercred (SO_PEERCRED, nan addon)',
  python: 'Python asyncio + SO_PEERCRED',
  go: 'Go net.UnixListener + SO_PEERCRED, a goroutine per connection',
  'peer-defaults': 'createPeerServer defaults: audit at info, default pino logger, stderr to /dev/null',
  peer: 'createPeerServer, audit off',
  'peer-resolver':
    'audit off, no identity memo: every connection through the resolver, warm per-uid cache (a new process of a known uid, gid and groups takes the memo)',
  'peer-noctx': 'audit off, asyncContext: false',
};
// Targets for the server's CPU per connection, as a ratio to plain's.
const TARGETS = { 'peer-defaults': 1.1, peer: 1.05, 'peer-resolver': 1.15 };

// 10,000 sockets need more than the usual 1024 descriptors per process; raise the soft limit up to the
// hard one in the shell that starts each process.
function spawnNode(args, stderr = 'inherit', program = process.execPath, env = process.env) {
  return spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', program, ...args], {
    stdio: ['pipe', 'pipe', stderr],
    env,
  });
}

function startServer(kind) {
  const socketPath = path.join(dir, `${serial++}.sock`);
  let child;
  if (kind === 'python')
    child = spawnNode([path.join(HERE, 'python-server.py'), kind, socketPath], 'inherit', 'python3');
  else if (kind === 'go') child = spawnNode([kind, socketPath], 'inherit', GO);
  // The default logger writes the audit lines to stderr: /dev/null here, as a service's journal would take them.
  else
    child = spawnNode(
      ['--expose-gc', path.join(HERE, 'server.mjs'), kind, socketPath],
      kind.replace(/@base$/, '') === 'peer-defaults' ? 'ignore' : 'inherit',
      process.execPath,
      {
        ...process.env,
        BENCH_PEERCRED_DIR: PEERCRED ?? '',
        BENCH_SERVER_DIST: kind.endsWith('@base') ? BASELINE : '',
      },
    );
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const ready = next();
  const send = async (command) => {
    const answer = next();
    child.stdin.write(`${command}\n`);
    const line = await answer;
    return line.startsWith('{') ? JSON.parse(line) : line;
  };
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.stdin.end();
    });
  return ready.then(() => ({ socketPath, send, stop }));
}

function runClient(args) {
  return new Promise((resolve, reject) => {
    const child = spawnNode([path.join(HERE, 'client.mjs'), ...args]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`client exited ${code}`))));
  });
}

async function measureRate(kind) {
  const server = await startServer(kind);
  // Several client processes, so the load generator is not the bottleneck of a single event loop.
  const load = async (ms, count = 0) =>
    (
      await Promise.all(
        Array.from({ length: CLIENTS }, () =>
          runClient([
            'rate',
            server.socketPath,
            String(ms),
            String(Math.ceil(CONCURRENCY / CLIENTS)),
            ...(count ? [String(Math.ceil(count / CLIENTS))] : []),
          ]),
        ),
      )
    ).map((out) => JSON.parse(out));
  const done = (runs) => runs.reduce((n, r) => n + r.done + r.failed, 0);
  // Warm the per-uid cache and the JIT under the same load first: a server runs for hours, and the figure
  // is its steady state, not the first second of optimising compilation.
  const warmed = done(await load(WARM_MS));
  if (warmed < WARM_CONNECTIONS) await load(20_000, WARM_CONNECTIONS - warmed);
  await server.send('mark');
  const outs = await load(ROUND_MS, ROUND_CONNECTIONS);
  const result = { done: 0, failed: 0, ms: 0 };
  for (const r of outs) {
    result.done += r.done;
    result.failed += r.failed;
    result.ms = Math.max(result.ms, r.ms);
    latency[kind].merge(r.latency);
  }
  const { cpuUs, accepted } = await server.send('report');
  await server.stop();
  return { ...result, cpuUs, accepted };
}

async function measureHeap(kind) {
  const server = await startServer(kind);
  await runClient(['rate', server.socketPath, '200', '2']);
  await server.send('heap-base');
  const holder = spawnNode([path.join(HERE, 'client.mjs'), 'hold', server.socketPath, String(CONNECTIONS)]);
  const { bytesPerConnection, rss } = await server.send(`heap ${CONNECTIONS}`);
  holder.stdin.end();
  await new Promise((r) => holder.once('exit', r));
  await server.stop();
  return { bytesPerConnection, rss };
}

console.log(
  `connections/second: ${ROUNDS} rounds of ${ROUND_CONNECTIONS ? `${ROUND_CONNECTIONS} connections (at most ${ROUND_MS} ms)` : `${ROUND_MS} ms`} per kind ` +
    `after ${WARM_MS} ms and at least ${WARM_CONNECTIONS} connections of warm-up, alternated, ${CONCURRENCY} client loops in ${CLIENTS} processes`,
);
const totals = Object.fromEntries(
  KINDS.map((k) => [k, { done: 0, failed: 0, ms: 0, cpuUs: 0, accepted: 0 }]),
);
const latency = Object.fromEntries(KINDS.map((k) => [k, new Histogram()]));
// Per kind, its ratios to plain in each round (rate, and CPU per connection): plain ran minutes apart from
// some kinds over the whole run, but within seconds of each in one round, so the median of these resists the
// machine's drift.
const roundRatios = Object.fromEntries(KINDS.map((k) => [k, { rate: [], cpu: [] }]));
async function round(kinds, n) {
  // Rotate the order each round so no kind always runs first.
  const order = kinds.slice(n % kinds.length).concat(kinds.slice(0, n % kinds.length));
  const perKind = {};
  for (const kind of order) {
    const r = await measureRate(kind);
    for (const key of Object.keys(totals[kind])) totals[kind][key] += r[key];
    perKind[kind] = { rate: r.done / r.ms, cpu: r.cpuUs / r.accepted };
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
const cpu = (k) => totals[k].cpuUs / totals[k].accepted;
console.log(
  '\n  kind           connections/s   p99     CPU/conn   CPU ratio (median of rounds)   rate ratio (median)',
);
for (const kind of KINDS) {
  const t = totals[kind];
  const ratios =
    kind === 'plain'
      ? ''
      : `${(cpu(kind) / cpu('plain')).toFixed(2)} (${median(roundRatios[kind].cpu).toFixed(2)})`.padEnd(31) +
        `${(rate(kind) / rate('plain')).toFixed(2)} (${median(roundRatios[kind].rate).toFixed(2)})`;
  const target = TARGETS[kind] ? `  target CPU <= ${TARGETS[kind].toFixed(2)}` : '';
  console.log(
    `  ${kind.padEnd(14)} ${rate(kind).toFixed(0).padStart(8)}/s  ${formatUs(latency[kind].percentile(0.99)).padStart(7)}  ` +
      `${cpu(kind).toFixed(1).padStart(6)} µs   ${ratios.padEnd(46)}${target}${t.failed ? `  failed: ${t.failed}` : ''}`,
  );
}
console.log('');
for (const kind of KINDS) {
  const base = kind.replace(/@base$/, '');
  console.log(`  ${kind}: ${NOTES[base]}${base === kind ? '' : `, the build in ${BASELINE}`}`);
}

// The guard reads the median of the per-round CPU ratios, the figure least moved by the machine's drift. The
// short guard reads the best round instead, and measures a kind found worse twice more beside plain before
// it fails: a regression is worse in every round, a busy neighbour in some.
const PEER_KINDS = KINDS.filter((k) => (k.startsWith('peer-') || k === 'peer') && !k.endsWith('@base'));
const guardRatio = (k) => (GUARD ? Math.min(...roundRatios[k].cpu) : median(roundRatios[k].cpu));
let worse = guard(REFERENCE, Object.fromEntries(PEER_KINDS.map((k) => [k, guardRatio(k)])), GUARD);
if (worse.length && GUARD) {
  console.log(`\nguard: measuring ${worse.join(', ')} again beside plain`);
  for (let n = 0; n < 2; n++) await round(['plain', ...worse], n);
  worse = guard(REFERENCE, Object.fromEntries(worse.map((k) => [k, guardRatio(k)])), GUARD);
}
if (worse.length) process.exitCode = 1;
if (GUARD) process.exit();

console.log(`\nheap per idle connection (${CONNECTIONS} open, after gc; mean of 2 passes):`);
const heap = Object.fromEntries(HEAP_KINDS.map((k) => [k, 0]));
const rssMax = Object.fromEntries(HEAP_KINDS.map((k) => [k, 0]));
for (let pass = 0; pass < 2; pass++) {
  for (const kind of pass === 0 ? HEAP_KINDS : [...HEAP_KINDS].reverse()) {
    const m = await measureHeap(kind);
    heap[kind] += m.bytesPerConnection / 2;
    rssMax[kind] = Math.max(rssMax[kind], m.rss);
  }
}
for (const kind of HEAP_KINDS)
  console.log(
    `  ${kind.padEnd(13)} ${heap[kind].toFixed(0).padStart(6)} bytes/connection, RSS ${(rssMax[kind] / 2 ** 20).toFixed(1)} MiB with ${CONNECTIONS} open`,
  );
for (const kind of HEAP_KINDS.slice(1)) {
  const extra = heap[kind] - heap.plain;
  console.log(`  extra ${kind.padEnd(11)} ${extra.toFixed(0).padStart(6)} bytes/connection (target < 2048)`);
}
