// npm run bench -w @peerauth/server
// 1. Connections per second: plain net.Server vs createPeerServer (warm cache) under the same client load,
//    runs alternated to spread noise evenly; ratio target >= 0.97.
// 2. Extra heap per idle connection with 10,000 connections open; target < 2 KB.
// Prints figures; never fails on them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);

// Re-exec with --expose-gc and a file limit high enough for 10,000 sockets (plus the client's).
if (typeof globalThis.gc !== 'function') {
  const script = fileURLToPath(import.meta.url);
  const result = spawnSync(
    'sh',
    [
      '-c',
      'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" --expose-gc "$1"',
      process.execPath,
      script,
    ],
    { stdio: 'inherit' },
  );
  process.exit(result.status ?? 1);
}

const { createPeerServer } = await import('../dist/index.js');
const { pino } = await import('pino');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const CONFIG = {
  trustDomain: 'example.org',
  fallbackRole: 'guest',
  people: [],
  groupRoles: {},
  userMaps: [],
};
const silent = { info() {}, warn() {}, error() {}, debug() {}, isLevelEnabled: () => false };
const devNull = pino({ level: 'info' }, pino.destination('/dev/null'));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pasrv-bench-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function listen(server, socketPath) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (socketPath) server.listen({ path: socketPath, backlog: 4096 }, resolve);
    else server.listen(resolve);
  });
}
const close = (server) => new Promise((resolve) => server.close(() => resolve()));

function runClient(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'client.mjs'), ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`client exited ${code}`))));
  });
}

const kinds = {
  plain: async (socketPath) => {
    const server = net.createServer((socket) => socket.end('x'));
    await listen(server, socketPath);
    return server;
  },
  peer: async (socketPath) => {
    const server = createPeerServer(
      { path: socketPath, identity: CONFIG, logger: silent, backlog: 4096 },
      (socket) => socket.end('x'),
    );
    await listen(server);
    return server;
  },
  'peer+audit': async (socketPath) => {
    const server = createPeerServer(
      { path: socketPath, identity: CONFIG, logger: devNull, backlog: 4096 },
      (socket) => socket.end('x'),
    );
    await listen(server);
    return server;
  },
};

async function measureRate(kind, round) {
  const socketPath = path.join(dir, `${kind}-${round}.sock`);
  const server = await kinds[kind](socketPath);
  // Warm the per-uid cache (and the JIT) before measuring.
  await runClient(['rate', socketPath, '200', '4']);
  const result = JSON.parse(await runClient(['rate', socketPath, String(ROUND_MS), String(CONCURRENCY)]));
  await close(server);
  return result;
}

console.log(
  `peerauth server bench: node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()} ${os.release()}`,
);
console.log(
  `connections/second: ${ROUNDS} alternated rounds of ${ROUND_MS} ms, ${CONCURRENCY} concurrent client loops\n`,
);
const totals = Object.fromEntries(Object.keys(kinds).map((k) => [k, { done: 0, failed: 0, ms: 0 }]));
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so no kind always runs first (or on a warmer machine).
  const order = Object.keys(kinds);
  for (let i = 0; i < round % order.length; i++) order.push(order.shift());
  const line = [];
  for (const kind of order) {
    const r = await measureRate(kind, round);
    totals[kind].done += r.done;
    totals[kind].failed += r.failed;
    totals[kind].ms += r.ms;
    line.push(`${kind} ${Math.round((r.done / r.ms) * 1000)}/s`);
  }
  console.log(`  round ${round + 1}: ${line.join(', ')}`);
}
const rate = (k) => (totals[k].done / totals[k].ms) * 1000;
console.log('');
for (const kind of Object.keys(kinds)) {
  console.log(
    `  ${kind.padEnd(11)} ${rate(kind).toFixed(0).padStart(7)} connections/s (failed: ${totals[kind].failed})`,
  );
}
console.log(
  `  ratio peer/plain:       ${(rate('peer') / rate('plain')).toFixed(3)} (target >= 0.97; audit logging off)`,
);
console.log(
  `  ratio peer+audit/plain: ${(rate('peer+audit') / rate('plain')).toFixed(3)} (pino at info to /dev/null)`,
);

// Heap per idle connection.
async function heapUsed() {
  // Several rounds with event-loop turns between them, so weak callbacks and finalizers settle.
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

async function measureHeap(kind) {
  const socketPath = path.join(dir, `${kind}-heap.sock`);
  let accepted = 0;
  let warming = true;
  let server;
  if (kind === 'plain') {
    server = net.createServer(() => {
      accepted++;
    });
    await listen(server, socketPath);
  } else {
    server = createPeerServer(
      { path: socketPath, identity: CONFIG, logger: kind === 'peer' ? silent : devNull, backlog: 4096 },
      (socket) => {
        if (warming) socket.end('x');
        else accepted++;
      },
    );
    await listen(server);
    // Warm the per-uid cache, so the figure is the steady state, not the first lookup.
    await runClient(['rate', socketPath, '100', '2']);
  }
  warming = false;
  accepted = 0;
  const before = await heapUsed();
  const child = spawn(
    process.execPath,
    [path.join(HERE, 'client.mjs'), 'hold', socketPath, String(CONNECTIONS)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve) => child.stdout.once('data', resolve));
  while (accepted < CONNECTIONS) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  const after = await heapUsed();
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  await close(server);
  return (after - before) / CONNECTIONS;
}

console.log(`\nheap per idle connection (${CONNECTIONS} open, after gc):`);
// One unrecorded pass first (code, caches and pools settle), then two recorded passes, averaged.
const heap = {};
const heapKinds = ['plain', 'peer', 'peer+audit'];
for (const kind of heapKinds) await measureHeap(kind);
for (let pass = 0; pass < 2; pass++) {
  for (const kind of pass === 0 ? heapKinds : [...heapKinds].reverse()) {
    heap[kind] = (heap[kind] ?? 0) + (await measureHeap(kind)) / 2;
  }
}
for (const kind of Object.keys(heap))
  console.log(`  ${kind.padEnd(11)} ${heap[kind].toFixed(0).padStart(6)} bytes/connection`);
console.log(
  `  extra peer - plain:       ${(heap.peer - heap.plain).toFixed(0)} bytes/connection (target < 2048)`,
);
console.log(`  extra peer+audit - plain: ${(heap['peer+audit'] - heap.plain).toFixed(0)} bytes/connection`);
