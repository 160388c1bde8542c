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
  return pino(
    // `pid` is this process's; audit events name the connecting process's `peerPid`.
    { base: { name: 'peerauth', pid: process.pid }, level: parseLogLevel(process.env.PEERAUTH_LOG_LEVEL) },
    bufferedDestination(2),
  );
}

interface Flushable {
  flushSync(): void;
}
const buffered = new Set<Flushable>();

/**
 * An asynchronous, buffered pino destination: a synchronous write(2) per audit line (two per connection)
 * halved the connection rate. Lines gather up to AUDIT_BUFFER_BYTES and go out together; a quiet server
 * still writes them within AUDIT_FLUSH_MS. pino writes the rest synchronously on process 'exit' (normal
 * end, uncaught exception); flushLogs() covers the ends that skip 'exit' (a re-raised signal).
 * Refusals and problems (warn and above) are rare and what an operator watches for: they go out at once.
 */
export function bufferedDestination(fd: number): pino.DestinationStream {
  const stream = pino.destination({
    fd,
    sync: false,
    minLength: AUDIT_BUFFER_BYTES,
    periodicFlush: AUDIT_FLUSH_MS,
  } as Parameters<typeof pino.destination>[0]);
  buffered.add(stream);
  stream.on('close', () => buffered.delete(stream));
  return {
    write(line: string) {
      stream.write(line);
      if (urgent(line)) stream.flush();
    },
  };
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

const AUDIT_BUFFER_BYTES = 8192;
const AUDIT_FLUSH_MS = 100;

const beforeFlush = new Set<() => void>();
let exitHooked = false;

/**
 * Runs `write` whenever the logs are written out before the process ends (flushLogs(), process 'exit'),
 * before the buffers go out: the server writes the closing lines of connections still open there. Returns
 * the function that takes it back.
 */
export function writeBeforeExit(write: () => void): () => void {
  beforeFlush.add(write);
  if (!exitHooked) {
    exitHooked = true;
    // After pino's own exit flush (registered when the destination was made): this one writes again.
    process.on('exit', flushLogs);
  }
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
