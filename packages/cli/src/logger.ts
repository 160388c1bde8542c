import { pino } from 'pino';
import { CliError } from './exit-codes.js';

export type LogFormat = 'pretty' | 'json';

export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined) return process.stdout.isTTY ? 'pretty' : 'json';
  if (value === 'pretty' || value === 'json') return value;
  throw new CliError(`--log-format must be "pretty" or "json", got "${value}"`);
}

/**
 * The base object carries no `pid`: audit events have their own `pid` (the peer's), and two keys of one
 * name in a JSON line would make the daemon's pid and the caller's easy to confuse.
 * Logs go to stderr so that stdout carries only what a command prints for the user (the socket path,
 * the curl line, JSON). pino-pretty runs in-process (sync) rather than as a transport thread: a CLI
 * must not lose its last lines at exit.
 */
export async function createLogger(format: LogFormat): Promise<pino.Logger> {
  const level = process.env.PEERAUTH_LOG_LEVEL ?? 'info';
  if (format === 'json')
    return pino({ base: { name: 'peerauth' }, level }, pino.destination({ fd: 2, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  return pino({ base: { name: 'peerauth' }, level }, pretty({ destination: 2, sync: true, colorize: false }));
}
