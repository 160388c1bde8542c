// npm run bench -w @peerauth/cli
// Keep-alive HTTP/1.1 requests per second, side by side in one run, alternating kinds every round so noise
// spreads evenly: the plainest Node reverse proxy (plain-proxy.mjs), `peerauth proxy` (the built CLI with
// its defaults, audit lines to /dev/null) and the upstream straight. All three reach one trivial upstream on
// 127.0.0.1 (upstream.mjs); the proxies listen on Unix sockets. The load comes from a small C client on epoll
// (load.c, built here with cc), one process per BENCH_CLIENTS, BENCH_CONNECTIONS connections in all.
// Every server runs in its own process. Prints figures; never fails on them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, '..', 'bin', 'peerauth.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 3000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1);
const TARGET = 1.3;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacli-bench-'));
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

const load = path.join(dir, 'load');
const cc = spawnSync('cc', ['-O2', '-o', load, path.join(HERE, 'load.c')], { stdio: 'inherit' });
if (cc.status !== 0) {
  console.error('bench: cannot build the load client (cc -O2 bench/load.c); install a C compiler');
  process.exit(1);
}

/** Starts a process and resolves with its first line of stdout. */
function start(args, stderr = 'inherit') {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', stderr] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
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

const port = Number(await start([path.join(HERE, 'upstream.mjs')]));
const plainSocket = path.join(dir, 'plain.sock');
const peerSocket = path.join(dir, 'peerauth.sock');
await start([path.join(HERE, 'plain-proxy.mjs'), plainSocket, String(port)]);
// The audit lines (JSON, the default off a terminal) go to /dev/null, as a service's journal would take them.
await start(
  [CLI, 'proxy', '--upstream', `http://127.0.0.1:${port}`, '--socket', peerSocket, '--log-format', 'json'],
  'ignore',
);
for (const s of [plainSocket, peerSocket]) {
  if (!(await canConnect(s))) throw new Error(`bench: nothing listens on ${s}`);
}

const KINDS = {
  plain: { target: plainSocket, note: 'http.request + keep-alive agent, headers copied, bodies piped' },
  peerauth: { target: peerSocket, note: 'peerauth proxy, built CLI, defaults (audit at info)' },
  direct: { target: String(port), note: 'the upstream straight, TCP 127.0.0.1' },
};

/** Runs the load clients against one target for ms; resolves with the responses counted. */
async function measure(target, ms) {
  const per = Math.ceil(CONNECTIONS / CLIENTS);
  const runs = [];
  for (let i = 0; i < CLIENTS; i++) {
    runs.push(
      new Promise((resolve, reject) => {
        const c = spawn(load, [target, String(Math.min(per, CONNECTIONS - i * per)), String(ms)]);
        let out = '';
        c.stdout.on('data', (d) => {
          out += d;
        });
        c.stderr.pipe(process.stderr);
        c.on('exit', (code) => {
          const [done, bad] = out.trim().split(' ').map(Number);
          if (code !== 0 || bad > 0)
            reject(new Error(`load client on ${target}: exit ${code}, ${bad} non-200`));
          else resolve(done);
        });
      }),
    );
  }
  return (await Promise.all(runs)).reduce((a, b) => a + b, 0);
}

const totals = Object.fromEntries(Object.keys(KINDS).map((k) => [k, 0]));
for (const kind of Object.keys(KINDS)) await measure(KINDS[kind].target, 500); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of Object.keys(KINDS)) totals[kind] += await measure(KINDS[kind].target, ROUND_MS);
}

const rate = (kind) => totals[kind] / ((ROUNDS * ROUND_MS) / 1000);
console.log(
  `peerauth proxy bench: ${ROUNDS} rounds x ${ROUND_MS} ms per kind, ${CONNECTIONS} keep-alive connections, ` +
    `${CLIENTS} C client process(es); Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`,
);
for (const [kind, { note }] of Object.entries(KINDS)) {
  console.log(
    `  ${kind.padEnd(9)} ${Math.round(rate(kind)).toLocaleString('en').padStart(8)} req/s  ${note}`,
  );
}
const vsPlain = rate('peerauth') / rate('plain');
console.log(
  `  peerauth / plain  ${vsPlain.toFixed(2)}  (target >= ${TARGET}: ${vsPlain >= TARGET ? 'met' : 'NOT met'})`,
);
console.log(`  peerauth / direct ${(rate('peerauth') / rate('direct')).toFixed(2)}`);
process.exit(0);
