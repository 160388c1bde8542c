// The log buffer has a bound: a child process logs far more than AUDIT_MAX_BUFFERED_BYTES to a stderr the
// test does not read, and must stop producing (wait for its reader) instead of holding the rest in memory.
// When the test finally reads, every line is there, whole and in order.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_MAX_BUFFERED_BYTES } from '../src/log-buffer.js';
import { ensureDist } from './build-dist.js';

beforeAll(() => {
  ensureDist();
}, 120_000);

// What the kernel holds between the two ends (a socket pair's buffers, a pipe's up to 1 MiB), what the
// test's own stream reads ahead, and one batch of lines: bytes produced but not in the child's memory.
const OUTSIDE_THE_CHILD = 4 * 1024 * 1024;
const LINE_PAD = 'x'.repeat(1000);
const BATCH = 256;
// Three times the bound: a version without one holds all of it.
const LINES = Math.ceil((3 * AUDIT_MAX_BUFFERED_BYTES) / 1100 / BATCH) * BATCH;

async function logToUnreadStderr(): Promise<void> {
  // The child logs through createJsonLogger in batches, yielding between them as a server does, and says
  // on stdout how many bytes it has produced so far. Its stderr is a socket that libuv leaves non-blocking
  // once anything (pino's import does) touches process.stderr, so its writes meet EAGAIN.
  const script = `
    import { createJsonLogger } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const logger = createJsonLogger('info');
    const pad = ${JSON.stringify(LINE_PAD)};
    let seq = 0;
    let produced = 0;
    const batch = () => {
      for (let i = 0; i < ${BATCH}; i++) {
        const line = { event: 'peerauth.connection', decision: 'closed', seq: seq++, pad };
        produced += JSON.stringify(line).length + 60;
        logger.info(line, 'peer connection closed');
      }
      process.stdout.write(produced + '\\n');
      if (seq < ${LINES}) setImmediate(batch);
      else process.stdout.write('done\\n');
    };
    batch();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  let read = 0;
  let furthestAhead = 0;
  let stdout = '';
  let lastReport = Date.now();
  // Not read until the child is done or has stopped making progress (it waits for its reader).
  child.stderr.pause();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const closed = new Promise<void>((resolve) => child.stderr.once('end', resolve));
  try {
    await new Promise<void>((resolve) => {
      let reading = false;
      const startReading = () => {
        if (reading) return;
        reading = true;
        clearInterval(idle);
        child.stderr.on('data', (d: Buffer) => {
          chunks.push(d);
          read += d.length;
        });
        child.stderr.resume();
        resolve();
      };
      child.stdout.on('data', (d) => {
        stdout += d;
        const lines = stdout.split('\n');
        stdout = lines.pop() ?? '';
        for (const line of lines) {
          if (line === 'done') startReading();
          else {
            lastReport = Date.now();
            furthestAhead = Math.max(furthestAhead, Number(line) - read);
          }
        }
      });
      // A child that has stopped reporting is waiting for its reader: read from now on.
      const idle = setInterval(() => Date.now() - lastReport > 1000 && startReading(), 100);
      child.once('exit', startReading);
    });
    await closed;
    expect(await exited).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
  // How far the child ran ahead of its reader is bounded by the cap plus what sits outside the child.
  expect(furthestAhead).toBeLessThanOrEqual(AUDIT_MAX_BUFFERED_BYTES + OUTSIDE_THE_CHILD);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(LINES);
  lines.forEach((line, i) => {
    expect(JSON.parse(line)).toMatchObject({ level: 30, seq: i, pad: LINE_PAD });
  });
}

describe.skipIf(process.platform !== 'linux')(
  'a log reader that does not read (Linux: fd flags and socket buffers as there)',
  () => {
    it('the server waits for its reader past AUDIT_MAX_BUFFERED_BYTES rather than buffer, and loses no line', async () => {
      await logToUnreadStderr();
    }, 60_000);
  },
);
