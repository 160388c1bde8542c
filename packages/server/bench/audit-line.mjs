// Where the audit line's CPU goes, apart from sockets and the machine's noise: the closing line of one
// connection (auditClosed) called in one process, 64 per event-loop turn as a busy server would, through
// createJsonLogger's buffered destination to /dev/null. Prints CPU µs per line (process.cpuUsage: all threads)
// for: the level check alone (audit off), building the line without writing it, and the whole path.
// node bench/audit-line.mjs [lines]
import fs from 'node:fs';
import { auditClosed, auditLine } from '../dist/audit.js';
import { createJsonLogger } from '../dist/logger.js';

const LINES = Number(process.argv[2] ?? 400_000);
const PER_TURN = 64;
const devnull = fs.openSync('/dev/null', 'w');
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
await measure('audit off: level check', (i) => auditClosed(off, peer, identity, null, i * 1e-3, 0.045));
let sink = 0;
await measure('line built, not written', (i) => {
  sink += auditLine(
    'info',
    Date.now(),
    ',"name":"peerauth","pid":1',
    { ...event, durationMs: i * 1e-3 },
    'peer connection closed',
  ).length;
});
const on = createJsonLogger('info', devnull);
await measure('audit at info: built and written', (i) =>
  auditClosed(on, peer, identity, null, i * 1e-3, 0.045),
);
if (sink === 0) console.log('');
