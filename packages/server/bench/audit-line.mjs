// Where the audit line's CPU goes, apart from sockets and the machine's noise: the closing line of one
// connection (auditClosed) called in one process, 64 per event-loop turn as a busy server would, through
// createJsonLogger's buffered destination to /dev/null. Prints CPU µs per line (process.cpuUsage: all threads)
// for: the level check alone (audit off), building the line, gathering lines, each way of writing the 32 KiB
// batches (sonic-boom's asynchronous write, which the default logger used before it wrote its batches itself), and the whole path.
// node bench/audit-line.mjs [lines]; BENCH_SERVER_DIST=<another build's packages/server/dist> measures that build.
import fs from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';

const DIST = process.env.BENCH_SERVER_DIST
  ? pathToFileURL(`${process.env.BENCH_SERVER_DIST}/`).href
  : new URL('../dist/', import.meta.url).href;
const { auditClosed, auditLine } = await import(`${DIST}audit.js`);
const { createJsonLogger } = await import(`${DIST}logger.js`);

const LINES = Number(process.argv[2] ?? 400_000);
const PER_TURN = 64;
const devnull = fs.openSync('/dev/null', 'w');
const socket = new net.Socket();
const peer = { auth: 'unix', credentials: { pid: 4242, uid: 1000, gid: 1000 }, remoteAddress: null };
const identity = {
  auth: 'unix',
  uid: 1000,
  gid: 1000,
  pid: 4242,
  username: 'alice',
  person: { name: 'Alice Example' },
  role: 'admin',
  fallback: false,
  spiffeId: 'spiffe://example.org/user/alice',
};
const event = {
  event: 'peerauth.connection',
  decision: 'closed',
  auth: 'unix',
  remoteAddress: null,
  peerUid: 1000,
  peerGid: 1000,
  peerPid: 4242,
  username: 'alice',
  person: 'Alice Example',
  role: 'admin',
  fallback: false,
  spiffeId: 'spiffe://example.org/user/alice',
  reason: null,
  durationMs: 0.123,
  admissionMs: 0.045,
};

async function measure(name, fn) {
  // Warm the JIT first, then measure.
  for (let round = 0; round < 2; round++) {
    const mark = process.cpuUsage();
    for (let i = 0; i < LINES; i += PER_TURN) {
      for (let j = 0; j < PER_TURN; j++) fn(i + j);
      await new Promise((r) => setImmediate(r));
    }
    const used = process.cpuUsage(mark);
    if (round === 1)
      console.log(`  ${name.padEnd(44)} ${((used.user + used.system) / LINES).toFixed(2)} µs/line`);
  }
}

console.log(`audit line cost, Node ${process.version}, ${LINES} lines, ${PER_TURN} per event-loop turn:`);
await measure('event-loop turns only (baseline)', () => {});
const off = createJsonLogger('warn', devnull);
await measure('audit off: level check', (i) =>
  auditClosed(off, socket, peer, identity, null, (i % 5000) * 1.7e-3 + 0.0123, 0.0457),
);
const BINDINGS = ',"name":"peerauth","pid":1';
const line = (i) =>
  auditLine('info', Date.now(), BINDINGS, { ...event, durationMs: i * 1e-3 }, 'peer connection closed');
let pending = '';
await measure('line built', (i) => {
  pending = line(i);
});
pending = '';
// The buffered destination's steps one at a time: gathered into one string, then handed over per 32 KiB.
const gathered = (hand) => (i) => {
  pending += line(i);
  if (pending.length >= 32768) {
    hand(pending);
    pending = '';
  }
};
await measure(
  'built, gathered, dropped at 32 KiB',
  gathered(() => {}),
);
await measure(
  'built, gathered, fs.writeSync per 32 KiB',
  gathered((s) => fs.writeSync(devnull, s)),
);
await measure(
  'built, gathered, fs.write (async) per 32 KiB',
  gathered((s) => fs.write(devnull, s, () => {})),
);
const sonic = pino.destination({ fd: devnull, sync: false });
await measure(
  'built, gathered, sonic-boom async per 32 KiB',
  gathered((s) => sonic.write(s)),
);
const on = createJsonLogger('info', devnull);
await measure('auditClosed at info: the whole path', (i) =>
  auditClosed(on, socket, peer, identity, null, (i % 5000) * 1.7e-3 + 0.0123, 0.0457),
);
