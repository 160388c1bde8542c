// A failure that reaches the CLI's top level without a peerauth code: a system call refused outside the
// checks that name their own (EACCES, EADDRINUSE, ENOENT on some path), or a bug (a TypeError). It is
// printed with a code like every other failure, so scripts can match it, and keeps what Node said: the
// errno, the system call and the path or address are in Node's message.
import { isPeerAuthError, PeerAuthError } from '@peerauth/core-native';

import { INTERNAL_ERROR, SYSTEM_ERROR } from './errors.js';

export { INTERNAL_ERROR, SYSTEM_ERROR };

function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string; syscall: string } {
  const e = err as NodeJS.ErrnoException;
  return (
    err instanceof Error &&
    typeof e.code === 'string' &&
    /^E[A-Z0-9]+$/.test(e.code) &&
    typeof e.syscall === 'string'
  );
}

/** The error as it is when it has a peerauth code; otherwise a PeerAuthError with one, the original as cause. */
export function withCode(err: unknown): Error & { code: string } {
  if (isPeerAuthError(err)) return err;
  if (isSystemError(err)) {
    // Node's message already reads "EACCES: permission denied, mkdir '/x'" or "listen EADDRINUSE: ... :8443".
    const where = err.path ?? (err as { address?: string }).address;
    const message =
      where === undefined || err.message.includes(where) ? err.message : `${err.message} (${where})`;
    return new PeerAuthError(SYSTEM_ERROR, message, { cause: err });
  }
  const what = err instanceof Error ? `${err.name}: ${err.message}` : `thrown value: ${String(err)}`;
  return new PeerAuthError(INTERNAL_ERROR, `${what} (unexpected; please report it with the command line)`, {
    cause: err,
  });
}
