import fs from 'node:fs';
import { pino } from 'pino';
import { InvalidLogLevelError } from './errors.js';

/** The subset of a pino logger the server uses; any pino instance (or child) fits. */
export interface PeerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
}

/**
 * Default: pino at 'info' on stderr, so accepted/closed connections form an audit trail out of the box
 * (like sshd's "Accepted ..." lines) while stdout stays free for the application. PEERAUTH_LOG_LEVEL
 * overrides the level without code changes ('warn' keeps only refusals and problems, 'silent' nothing).
 */
export function createDefaultLogger(): PeerLogger {
  return createJsonLogger(parseLogLevel(process.env.PEERAUTH_LOG_LEVEL));
}

/**
 * pino at `level`, JSON lines on `fd` through bufferedDestination(fd), with `name` "peerauth" and this
 * process's `pid` in every line (audit events name the connecting process's `peerPid`). The server writes
 * its audit events to such a logger directly (directLines): the same line pino would write, without pino's
 * generic per-key loop, which cost a fifth of the connection rate with the audit trail on.
 */
export function createJsonLogger(level: LogLevel, fd = 2): pino.Logger {
  const { destination, writeLine } = lineBuffer(fd);
  const logger = pino({ base: { name: 'peerauth', pid: process.pid }, level }, destination);
  const fields = logger as unknown as Record<symbol, unknown>;
  direct.set(logger, {
    // pino's own bindings string (`,"name":"peerauth","pid":N`), read at every line: setBindings() changes it.
    bindings: () => {
      const bindings = fields[pino.symbols.chindingsSym];
      return typeof bindings === 'string' ? bindings : null;
    },
    write: writeLine,
  });
  return logger;
}

/** Where a logger made by createJsonLogger takes whole lines; see directLines(). */
export interface DirectLines {
  /**
   * What pino writes after `"time":N` for this logger now: its bindings, starting with a comma (or null if
   * pino no longer keeps them as a string; then the line goes through pino).
   */
  bindings(): string | null;
  /** A whole line; `urgent` (warn and above) goes out at once, as pino's would. */
  write(line: string, urgent: boolean): void;
}

const direct = new WeakMap<object, DirectLines>();

/**
 * The line sink of a logger made by createJsonLogger, or undefined for any other logger (an application's
 * own pino, a child, a custom object), whose serializers, hooks and formatters only pino itself applies.
 * The level check stays the caller's (isLevelEnabled), so a changed `logger.level` still holds.
 */
export function directLines(logger: PeerLogger): DirectLines | undefined {
  return direct.get(logger);
}

interface Flushable {
  flushSync(): void;
}
const buffered = new Set<Flushable>();
const beforeFlush = new Set<() => void>();
let exitHooked = false;

// After pino's own exit handler (registered when a destination is made): this one writes again.
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', flushLogs);
}

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
function lineBuffer(fd: number): {
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
  const flushable: Flushable = {
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
  };
  buffered.add(flushable);
  hookExit();
  stream.on('close', () => buffered.delete(flushable));
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

/**
 * Runs `write` whenever the logs are written out before the process ends (flushLogs(), process 'exit'),
 * before the buffers go out: the server writes the closing lines of connections still open there. Returns
 * the function that takes it back.
 */
export function writeBeforeExit(write: () => void): () => void {
  beforeFlush.add(write);
  hookExit();
  return () => beforeFlush.delete(write);
}

/** Writes out every buffered destination now; called before the process ends without an 'exit' event. */
export function flushLogs(): void {
  for (const write of beforeFlush) {
    try {
      write();
    } catch {
      // The process is ending: the other lines must still go out.
    }
  }
  for (const stream of buffered) {
    try {
      stream.flushSync();
    } catch {
      // A closed or broken stderr: nothing more can be written, and the process is ending anyway.
    }
  }
}

/** pino's levels, and `silent`: what PEERAUTH_LOG_LEVEL may say. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** PEERAUTH_LOG_LEVEL, or InvalidLogLevelError listing the valid levels (pino's own message names none). */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === '') return 'info';
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new InvalidLogLevelError(value, LOG_LEVELS);
}

export function levelEnabled(logger: PeerLogger, level: 'info' | 'warn' | 'debug'): boolean {
  return logger.isLevelEnabled ? logger.isLevelEnabled(level) : true;
}
