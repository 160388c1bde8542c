// Buffered log output: lines gather in memory and go to an asynchronous pino destination together, so the
// audit trail does not cost a write(2) per connection; what matters to an operator goes out at once, and
// everything is written out before the process ends (log-flush.ts).
import fs from 'node:fs';
import { pino } from 'pino';
import { flushBeforeExit } from './log-flush.js';

/**
 * An asynchronous, buffered pino destination: a synchronous write(2) per audit line halved the connection
 * rate. Lines gather here up to AUDIT_BUFFER_BYTES and go to the asynchronous destination together; a quiet
 * server still writes them within AUDIT_FLUSH_MS. They gather in a plain string rather than in sonic-boom's
 * own buffer, whose write() measures the UTF-8 length of everything buffered so far on every line. On
 * process 'exit' (normal end, uncaught exception) and in flushLogs() (the ends that skip 'exit', such as a
 * re-raised signal) everything is written synchronously. Refusals and problems (warn and above) are rare and
 * what an operator watches for: they go out at once.
 */
export function bufferedDestination(fd: number): pino.DestinationStream {
  return lineBuffer(fd).destination;
}

/**
 * bufferedDestination, and the same buffer's writer for lines whose level the caller knows (the server's
 * audit lines): they skip reading the level back out of the line.
 */
export function lineBuffer(fd: number): {
  destination: pino.DestinationStream;
  writeLine: (line: string, urgent: boolean) => void;
} {
  const stream = pino.destination({ fd, sync: false });
  let pending = '';
  let timer: NodeJS.Timeout | null = null;
  const handOver = (): void => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (pending === '') return;
    const lines = pending;
    pending = '';
    stream.write(lines);
  };
  const forget = flushBeforeExit({
    flushSync() {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      const lines = pending;
      pending = '';
      try {
        stream.flushSync();
      } finally {
        // Directly: handed to the stream now, they would only start an asynchronous write the exit cuts off.
        if (lines !== '') writeAllSync(fd, lines);
      }
    },
  });
  stream.on('close', forget);
  const writeLine = (line: string, now: boolean): void => {
    pending += line;
    if (now) {
      handOver();
      stream.flush();
    } else if (pending.length >= AUDIT_BUFFER_BYTES) handOver();
    else if (timer === null) {
      timer = setTimeout(handOver, AUDIT_FLUSH_MS);
      timer.unref();
    }
  };
  return { destination: { write: (line: string) => writeLine(line, urgent(line)) }, writeLine };
}

/** write(2) until all is out; a non-blocking pipe that is full (EAGAIN) is retried for up to a second. */
function writeAllSync(fd: number, text: string): void {
  let rest = Buffer.from(text);
  let waited = 0;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(fs.writeSync(fd, rest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || waited++ >= 1000) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

// pino writes the level first: {"level":40,... for warn, 50 error, 60 fatal.
const LEVEL_DIGIT = '{"level":'.length;
function urgent(line: string): boolean {
  return (
    line.startsWith('{"level":') &&
    line.charCodeAt(LEVEL_DIGIT) >= 0x34 &&
    line.charCodeAt(LEVEL_DIGIT + 2) === 0x2c
  );
}

const AUDIT_BUFFER_BYTES = 32768;
const AUDIT_FLUSH_MS = 100;

/** @internal The most the buffer holds before it waits for its reader. */
export const AUDIT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
