// The logger factory: the pino logger the server makes when none is given, and what the server asks of
// any logger. Its output is buffered (log-buffer.ts), written out before exit (log-flush.ts), and the
// audit lines take a direct path to it (direct-lines.ts); its level comes from the options (options.ts).
import { pino } from 'pino';
import { attachDirectLines } from './direct-lines.js';
import { lineBuffer } from './log-buffer.js';
import type { LogLevel } from './options.js';

/** The subset of a pino logger the server uses; any pino instance (or child) fits. */
export interface PeerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
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
  attachDirectLines(logger, writeLine);
  return logger;
}

export function levelEnabled(logger: PeerLogger, level: 'info' | 'warn' | 'debug'): boolean {
  return logger.isLevelEnabled ? logger.isLevelEnabled(level) : true;
}
