// node bench/threads.mjs [kinds...]: where a server's CPU per connection goes, by thread. Each kind's server
// (bench/server.mjs, with --trace-gc) takes BENCH_CONNECTIONS connect/read-to-EOF/close connections from 32
// loops in this process; its threads' user + system time is read from /proc/<pid>/task/*/stat around them
// and summed per thread name (the main thread, V8's helper threads, libuv's pool), with the young- and
// old-generation collections --trace-gc printed. Linux only; a side-by-side diagnosis, not a guard.
// "<kind>@base" runs that kind on the build in BENCH_BASELINE (as run.mjs does).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const KINDS = process.argv.slice(2).length ? process.argv.slice(2) : ['plain', 'peer-noctx', 'peer'];
const N = Number(process.env.BENCH_CONNECTIONS ?? 20_000);
const TICK_US = 1e6 / 100; // USER_HZ

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pasrv-threads-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function threads(pid) {
  const out = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const group = tid === String(pid) ? 'main' : name.replace(/[\d]+$/, '').trim();
    out[group] = (out[group] ?? 0) + (Number(fields[11]) + Number(fields[12])) * TICK_US;
  }
  return out;
}

function load(socketPath, count) {
  let left = count;
  return new Promise((resolve) => {
    let running = 32;
    const loop = () => {
      if (left-- <= 0) {
        if (--running === 0) resolve();
        return;
      }
      const c = net.connect(socketPath);
      c.on('error', () => {});
      c.resume();
      c.on('close', loop);
    };
    for (let i = 0; i < 32; i++) loop();
  });
}

for (const kind of KINDS) {
  const socketPath = path.join(dir, `${kind}.sock`);
  const child = spawn(process.execPath, ['--trace-gc', path.join(HERE, 'server.mjs'), kind, socketPath], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: {
      ...process.env,
      BENCH_SERVER_DIST: kind.endsWith('@base') ? path.resolve(process.env.BENCH_BASELINE ?? '') : '',
    },
  });
  let scavenges = 0;
  let marks = 0;
  let counting = false;
  const lines = readline.createInterface({ input: child.stdout });
  const ready = new Promise((resolve) =>
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else if (counting && line.includes('Scavenge')) scavenges++;
      else if (counting && line.includes('Mark-Compact')) marks++;
    }),
  );
  await ready;
  await load(socketPath, 5000); // warm-up: the JIT's compilations are not charged to the measurement
  const before = threads(child.pid);
  counting = true;
  await load(socketPath, N);
  const after = threads(child.pid);
  counting = false;
  child.kill();
  const per = Object.keys(after)
    .map((k) => [k, (after[k] - (before[k] ?? 0)) / N])
    .filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = per.reduce((sum, [, us]) => sum + us, 0);
  console.log(
    `${kind.padEnd(14)} ${total.toFixed(1)} µs/conn: ${per.map(([k, us]) => `${k} ${us.toFixed(1)}`).join(', ')}; ` +
      `${((scavenges * 1000) / N).toFixed(2)} scavenges per 1,000, ${marks} mark-compacts in all`,
  );
}
