import {
  createJsonLogger,
  InvalidLogLevelError,
  type LogLevel,
  parseLogLevel as parseServerLogLevel,
} from '@peerauth/server';
import { pino } from 'pino';
import { CliError, EXIT_ERROR, EXIT_USAGE } from './exit-codes.js';
import { invalidFlagValue } from './flag-values.js';

export type LogFormat = 'pretty' | 'json';

/** Logs go to stderr, so stderr being a terminal (not stdout) decides the default format. */
export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined) return process.stderr.isTTY ? 'pretty' : 'json';
  if (value === 'pretty' || value === 'json') return value;
  throw invalidFlagValue(`--log-format must be "pretty" or "json", got "${value}"`, EXIT_ERROR);
}

/** PEERAUTH_LOG_LEVEL, checked before anything starts: a usage error that lists the valid levels. */
export function parseLogLevel(value: string | undefined): LogLevel {
  try {
    return parseServerLogLevel(value);
  } catch (err) {
    if (err instanceof InvalidLogLevelError) throw new CliError(err.message, EXIT_USAGE, err);
    throw err;
  }
}

/**
 * `pid` is this process's, as pino-pretty's header and log tools expect; the audit events name the
 * connecting process's fields `peerPid`, `peerUid`, `peerGid`.
 * Logs go to stderr so that stdout carries only what a command prints for the user (the socket path,
 * the curl line, JSON). JSON lines come from the server's createJsonLogger: its buffered destination (a
 * write(2) per audit line would halve the connection rate), written out on exit and before a re-raised
 * signal, and audit lines written without pino's per-key loop. pino-pretty
 * (for a terminal) runs in-process and sync rather than as a transport thread: a CLI must not lose its
 * last lines at exit.
 */
export async function createLogger(format: LogFormat, level: LogLevel): Promise<pino.Logger> {
  if (format === 'json') return createJsonLogger(level);
  const { default: pretty } = await import('pino-pretty');
  return pino(
    { base: { name: 'peerauth', pid: process.pid }, level },
    // singleLine: one line per event; the fields follow the message as one JSON object.
    pretty({ destination: 2, sync: true, colorize: false, singleLine: true }),
  );
}
