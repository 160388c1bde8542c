// Load generator, run in its own process so it does not share the server's event loop.
//   rate <path> <durationMs> <concurrency>: connect, read until the server closes, repeat; prints the count.
//   hold <path> <count>: opens <count> connections, prints "open <n>", keeps them until stdin closes.
import net from 'node:net';

const [mode, socketPath, a, b] = process.argv.slice(2);

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
  const deadline = performance.now() + durationMs;
  let done = 0;
  let failed = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      if (await once(socketPath)) done++;
      else failed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  process.stdout.write(`${JSON.stringify({ done, failed, ms: performance.now() - started })}\n`);
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
