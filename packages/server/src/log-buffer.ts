// Buffered log output: lines gather in memory and go out together, so the audit trail does not cost a
// write(2) per connection; what matters to an operator goes out at once, a slow reader slows the server
// rather than grow its memory, and everything is written out before the process ends (log-flush.ts).
import fs from 'node:fs';
import type { pino } from 'pino';
import { flushBeforeExit } from './log-flush.js';

/**
 * A buffered pino destination: a write(2) per audit line halved the connection rate. Lines gather here up to
 * AUDIT_BUFFER_BYTES and go out together in one write(2); a quiet server still writes them within
 * AUDIT_FLUSH_MS. They gather in a plain string, whose length costs nothing to read, rather than in a stream
 * that measures the UTF-8 length of everything buffered on every line. On process 'exit' (normal end,
 * uncaught exception) and in flushLogs() (the ends that skip 'exit', such as a re-raised signal) everything
 * is written synchronously. Refusals and problems (warn and above) are rare and what an operator watches
 * for: they go out at once.
 *
 * A slow log reader (a busy journal, a stopped pipe) must not grow the server's memory without bound: what a
 * non-blocking stderr does not take (EAGAIN) waits here and is retried, but past AUDIT_MAX_BUFFERED_BYTES the
 * server writes synchronously until all is out, so it runs at the rate its reader reads instead of dropping
 * audit lines. Every write(2) is made here, in order, so lines stay whole and in sequence; a blocking stderr
 * simply blocks in write(2).
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
  let pending = '';
  // Handed over but not yet taken by write(2) (EAGAIN), oldest first, and their byte count.
  const unwritten: Buffer[] = [];
  let unwrittenBytes = 0;
  // After EPIPE nobody reads: later lines are dropped (pino's own rule for a broken pipe).
  let broken = false;
  let timer: NodeJS.Timeout | null = null;
  const clearTimer = (): void => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  };
  // write(2) what is unwritten; on EAGAIN wait and retry for up to `waitMs` (Infinity: until all is out).
  // Returns false when lines are left for later.
  const writeOut = (waitMs: number): boolean => {
    let waited = 0;
    while (unwritten.length > 0) {
      let n: number;
      try {
        n = fs.writeSync(fd, unwritten[0]!);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && waited < waitMs) {
          const pause = Math.min(waited + 1, MAX_RETRY_WAIT_MS);
          Atomics.wait(SLEEPER, 0, 0, pause);
          waited += pause;
          continue;
        }
        if (code === 'EAGAIN') return false;
        unwritten.length = 0;
        unwrittenBytes = 0;
        broken = true;
        if (code === 'EPIPE') return true;
        // Any other failure (from a timer: the process ends, as a log stream's 'error' event would).
        throw err;
      }
      unwrittenBytes -= n;
      if (n === unwritten[0]!.length) unwritten.shift();
      else unwritten[0] = unwritten[0]!.subarray(n);
    }
    return true;
  };
  const handOver = (): void => {
    clearTimer();
    if (broken) {
      pending = '';
      return;
    }
    if (pending !== '') {
      const lines = Buffer.from(pending);
      pending = '';
      unwritten.push(lines);
      unwrittenBytes += lines.length;
    }
    const done = writeOut(unwrittenBytes >= AUDIT_MAX_BUFFERED_BYTES ? Number.POSITIVE_INFINITY : 0);
    if (!done) {
      timer = setTimeout(handOver, RETRY_MS);
      timer.unref();
    }
  };
  flushBeforeExit({
    flushSync() {
      clearTimer();
      if (broken) return;
      if (pending !== '') {
        const lines = Buffer.from(pending);
        pending = '';
        unwritten.push(lines);
        unwrittenBytes += lines.length;
      }
      // The process is ending: a full pipe is waited on for a second in all, not for ever.
      if (!writeOut(EXIT_WAIT_MS)) throw new Error('log reader still full after a second');
    },
  });
  const writeLine = (line: string, now: boolean): void => {
    pending += line;
    if (now || pending.length >= AUDIT_BUFFER_BYTES) handOver();
    else if (timer === null) {
      timer = setTimeout(handOver, AUDIT_FLUSH_MS);
      timer.unref();
    }
  };
  return { destination: { write: (line: string) => writeLine(line, urgent(line)) }, writeLine };
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
// How soon lines a non-blocking stderr refused (EAGAIN) are tried again, and the longest single wait while
// the server waits for its reader past the cap.
const RETRY_MS = 10;
const MAX_RETRY_WAIT_MS = 10;
const EXIT_WAIT_MS = 1000;
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/**
 * @internal The most the buffer holds before the server waits for its reader: about 30,000 audit lines,
 * seconds of a busy server's trail, enough to ride out a journal's pause without slowing the server, and
 * small next to a Node.js process's own heap.
 */
export const AUDIT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
