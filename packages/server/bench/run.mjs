// npm run bench -w @peerauth/server
// 1. Connections per second: plain net.Server vs createPeerServer (warm cache) under the same client load,
//    in one run, alternating kinds every round so noise spreads evenly; ratio target >= 0.97.
// 2. Extra heap per idle connection with 10,000 connections open; target < 2 KB.
// Every server runs in its own process (bench/server.mjs), the load in another (bench/client.mjs).
// Prints figures; never fails on them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2);
const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;
const KINDS = [
  'plain',
  ...(HAS_PYTHON ? ['python'] : []),
  'peer-defaults',
  'peer',
  'peer-resolver',
  'peer-noctx',
];
const HEAP_KINDS = KINDS.filter((k) => k !== 'python');
const NOTES = {
  plain: 'net.Server',
  python: 'Python asyncio + SO_PEERCRED',
  'peer-defaults': 'createPeerServer defaults: audit at info, default pino logger, stderr to /dev/null',
  peer: 'createPeerServer, audit off',
  'peer-resolver':
    'audit off, no identity memo: every connection through the resolver, warm per-uid cache (a new process of a known uid, gid and groups takes the memo)',
  'peer-noctx': 'audit off, asyncContext: false',
};
const TARGETS = { 'peer-defaults': 0.9, peer: 0.97, 'peer-resolver': 0.9 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pasrv-bench-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let serial = 0;

// 10,000 sockets need more than the usual 1024 descriptors per process; raise the soft limit up to the
// hard one in the shell that starts each process.
function spawnNode(args, stderr = 'inherit', program = process.execPath) {
  return spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', program, ...args], {
    stdio: ['pipe', 'pipe', stderr],
  });
}

function startServer(kind) {
  const socketPath = path.join(dir, `${serial++}.sock`);
  const child =
    kind === 'python'
      ? spawnNode([path.join(HERE, 'python-server.py'), kind, socketPath], 'inherit', 'python3')
      : // The default logger writes the audit lines to stderr: /dev/null here, as a service's journal would take them.
        spawnNode(
          ['--expose-gc', path.join(HERE, 'server.mjs'), kind, socketPath],
          kind === 'peer-defaults' ? 'ignore' : 'inherit',
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
  const load = (ms) =>
    Promise.all(
      Array.from({ length: CLIENTS }, () =>
        runClient(['rate', server.socketPath, String(ms), String(Math.ceil(CONCURRENCY / CLIENTS))]),
      ),
    );
  // Warm the per-uid cache and the JIT under the same load first: a server runs for hours, and the figure
  // is its steady state, not the first second of optimising compilation.
  await load(WARM_MS);
  await server.send('mark');
  const outs = await load(ROUND_MS);
  const result = { done: 0, failed: 0, ms: 0 };
  for (const out of outs) {
    const r = JSON.parse(out);
    result.done += r.done;
    result.failed += r.failed;
    result.ms = Math.max(result.ms, r.ms);
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
  `peerauth server bench: node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()} ${os.release()}`,
);
if (!HAS_PYTHON) console.log('python3 not found: the Python asyncio server is skipped');
console.log(
  `connections/second: ${ROUNDS} rounds of ${ROUND_MS} ms per kind after ${WARM_MS} ms of warm-up, alternated, ${CONCURRENCY} client loops in ${CLIENTS} processes`,
);
const totals = Object.fromEntries(
  KINDS.map((k) => [k, { done: 0, failed: 0, ms: 0, cpuUs: 0, accepted: 0 }]),
);
// Per kind, its ratio to plain in each round: plain ran minutes apart from some kinds over the whole run,
// but within seconds of each in one round, so the median of these resists the machine's drift.
const roundRatios = Object.fromEntries(KINDS.map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so no kind always runs first.
  const order = KINDS.slice(round % KINDS.length).concat(KINDS.slice(0, round % KINDS.length));
  const perKind = {};
  for (const kind of order) {
    const r = await measureRate(kind);
    for (const key of Object.keys(totals[kind])) totals[kind][key] += r[key];
    perKind[kind] = r.done / r.ms;
  }
  for (const kind of KINDS) roundRatios[kind].push(perKind[kind] / perKind.plain);
  console.log(
    `  round ${round + 1}: ${KINDS.map((k) => `${k} ${Math.round(perKind[k] * 1000)}/s`).join(', ')}`,
  );
}
const rate = (k) => (totals[k].done / totals[k].ms) * 1000;
console.log('');
for (const kind of KINDS) {
  const t = totals[kind];
  console.log(
    `  ${kind.padEnd(11)} ${rate(kind).toFixed(0).padStart(6)} connections/s, server CPU ` +
      `${(t.cpuUs / t.accepted).toFixed(1).padStart(5)} µs/connection  (${NOTES[kind]}; failed: ${t.failed})`,
  );
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
console.log('');
for (const kind of KINDS.slice(1)) {
  const target = TARGETS[kind] ? `  (target >= ${TARGETS[kind].toFixed(2)})` : '';
  console.log(
    `  ratio ${kind}/plain: ${(rate(kind) / rate('plain')).toFixed(3)}, median of rounds ` +
      `${median(roundRatios[kind]).toFixed(3)}${target}`,
  );
}

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
