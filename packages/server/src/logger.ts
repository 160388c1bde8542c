import { pino } from 'pino';

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
    // No `pid` in the base: audit events carry the peer's pid, and a second "pid" key would be ambiguous.
    { base: { name: 'peerauth' }, level: process.env.PEERAUTH_LOG_LEVEL ?? 'info' },
    pino.destination(2),
  );
}

export function levelEnabled(logger: PeerLogger, level: 'info' | 'warn' | 'debug'): boolean {
  return logger.isLevelEnabled ? logger.isLevelEnabled(level) : true;
}
