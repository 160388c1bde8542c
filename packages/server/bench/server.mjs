// One server per process, so each kind is measured alone: AsyncLocalStorage, once enabled, stays enabled
// for the whole process and would also slow a plain net.Server running after it.
// argv: <kind> <socketPath> (kinds: plain, peercred, peer, peer-defaults, peer-resolver, peer-noctx). Commands on stdin, one per line:
//   mark            -> remember CPU time, reset the connection count      (prints "ok")
//   report          -> {"cpuUs": CPU since mark, "accepted": connections since mark}
//   heap-base       -> gc, remember heap, reset the count                  (prints "ok")
//   heap <n>        -> wait for n connections since heap-base, gc, print {"bytesPerConnection"}
import { createRequire } from 'node:module';
import net from 'node:net';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

// BENCH_SERVER_DIST: another build of this package (run.mjs's BENCH_BASELINE), for a "<kind>@base" kind.
const { createPeerServer } = await import(
  process.env.BENCH_SERVER_DIST
    ? pathToFileURL(`${process.env.BENCH_SERVER_DIST}/index.js`).href
    : '../dist/index.js'
);
const [kind, socketPath] = [process.argv[2].replace(/@base$/, ''), process.argv[3]];
const CONFIG = {
  trustDomain: 'example.org',
  fallbackRole: 'guest',
  people: [],
  groupRoles: {},
  userMaps: [],
};
const silent = { info() {}, warn() {}, error() {}, debug() {}, isLevelEnabled: () => false };

let accepted = 0;
let hold = false;
const onSocket = (socket) => {
  accepted++;
  if (!hold) socket.end('x');
};

let server;
if (kind === 'plain') {
  server = net.createServer(onSocket);
  server.listen({ path: socketPath, backlog: 4096 }, ready);
} else if (kind === 'peercred') {
  // The npm `peercred` addon, built by the bench (scripts/bench-common.mjs) into BENCH_PEERCRED_DIR.
  const peercred = createRequire(import.meta.url)(process.env.BENCH_PEERCRED_DIR);
  server = net.createServer((socket) => {
    peercred.fromSock(socket);
    onSocket(socket);
  });
  server.listen({ path: socketPath, backlog: 4096 }, ready);
} else {
  const options = { path: socketPath, identity: CONFIG, logger: silent, backlog: 4096 };
  if (kind === 'peer-defaults') delete options.logger;
  if (kind === 'peer-noctx') options.asyncContext = false;
  // New client processes skip the memo: this is the path of a connection from a process not seen before.
  if (kind === 'peer-resolver') options.cache = { identities: 0 };
  server = createPeerServer(options, onSocket);
  server.listen(ready);
}

function ready() {
  process.stdout.write('ready\n');
}

async function heapUsed() {
  // Several rounds with event-loop turns between them, so weak callbacks and finalizers settle.
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

let cpuMark = process.cpuUsage();
let heapBase = 0;
const reply = (value) =>
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === 'mark') {
    cpuMark = process.cpuUsage();
    accepted = 0;
    reply('ok');
  } else if (command === 'report') {
    const used = process.cpuUsage(cpuMark);
    reply({ cpuUs: used.user + used.system, accepted });
  } else if (command === 'heap-base') {
    hold = true;
    heapBase = await heapUsed();
    accepted = 0;
    reply('ok');
  } else if (command === 'heap') {
    const n = Number(arg);
    while (accepted < n) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    reply({ bytesPerConnection: ((await heapUsed()) - heapBase) / n, rss: process.memoryUsage().rss });
  }
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
