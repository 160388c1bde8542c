// Load generator, run in its own process so it does not share the server's event loop.
//   rate <path> <durationMs> <concurrency> [count]: connect, read until the server closes, repeat, until the
//     time is up or count connections are done; prints the count and each connection's latency (connect to
//     close, µs) counted per value.
//   hold <path> <count>: opens <count> connections, prints "open <n>", keeps them until stdin closes.
import net from 'node:net';
import { Histogram } from '../../../scripts/bench-common.mjs';

const [mode, socketPath, a, b, c] = process.argv.slice(2);

function once(path) {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.on('data', () => {});
    c.on('close', (hadError) => resolve(!hadError));
    c.on('error', () => {});
  });
}

if (mode === 'rate') {
  const durationMs = Number(a);
  const concurrency = Number(b);
  const count = c ? Number(c) : Number.POSITIVE_INFINITY;
  const deadline = performance.now() + durationMs;
  let done = 0;
  let failed = 0;
  const latency = new Histogram();
  const loop = async () => {
    while (performance.now() < deadline && done + failed < count) {
      const t0 = performance.now();
      if (await once(socketPath)) {
        done++;
        latency.add((performance.now() - t0) * 1000);
      } else failed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  process.stdout.write(
    `${JSON.stringify({ done, failed, ms: performance.now() - started, latency: Object.fromEntries(latency.counts) })}\n`,
  );
} else if (mode === 'hold') {
  const count = Number(a);
  const sockets = [];
  const openOne = () =>
    new Promise((resolve) => {
      const attempt = () => {
        const c = net.connect(socketPath);
        c.once('connect', () => {
          sockets.push(c);
          resolve();
        });
        c.once('error', (err) => {
          if (err.code === 'EAGAIN') setTimeout(attempt, 5);
          else {
            process.stderr.write(`connect failed: ${err.code}\n`);
            resolve();
          }
        });
      };
      attempt();
    });
  for (let i = 0; i < count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, openOne));
  }
  process.stdout.write(`open ${sockets.length}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
