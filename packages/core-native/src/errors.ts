// Every failure of peerauth carries a stable `code`, so callers can branch on the code instead of parsing
// messages. Codes are `PEERAUTH_...`, except where the code is a system errno the kernel reported
// (PeerCredentialsError: EBADF, ENOTSOCK, EOVERFLOW, ...), which stays the errno as in Node's own system
// errors. Every package marks its errors with one registry symbol, so isPeerAuthError() recognises them
// even from a package that cannot import this one (@peerauth/identity depends on zod only).

const PEERAUTH_ERROR = Symbol.for('@peerauth/error');

/** The fields every peerauth error has, whichever class it is (PeerAuthError, TypeError, RangeError). */
export interface PeerAuthErrorLike extends Error {
  readonly code: string;
}

/** True for an error any peerauth package created (every one has a stable `code`). */
export function isPeerAuthError(value: unknown): value is PeerAuthErrorLike {
  return (
    value instanceof Error &&
    (value as unknown as Record<symbol, unknown>)[PEERAUTH_ERROR] === true &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

function mark(err: Error, code: string): void {
  Object.defineProperty(err, PEERAUTH_ERROR, { value: true });
  (err as unknown as { code: string }).code = code;
}

/**
 * `CODE: message`, the one text form of an error in audit reasons and CLI output. A value without a string
 * `code` gives `fallbackCode: message`; one without a string `message` (a thrown non-error) its String().
 */
export function formatError(err: unknown, fallbackCode = 'ERROR'): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : fallbackCode;
  return `${code}: ${typeof e.message === 'string' ? e.message : String(err)}`;
}

/** Base class of every peerauth error that is not an argument error; `code` is stable, the message is for humans. */
export class PeerAuthError extends Error {
  declare readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    mark(this, code);
  }
}

/**
 * A bad argument of the wrong type or shape (`PEERAUTH_INVALID_ARGUMENT`); still a TypeError, so checks
 * written against the built-in class keep working.
 */
export class PeerAuthTypeError extends TypeError {
  declare readonly code: string;
  constructor(message: string, code = 'PEERAUTH_INVALID_ARGUMENT') {
    super(message);
    mark(this, code);
  }
}

/** A numeric argument outside its range (`PEERAUTH_ARGUMENT_OUT_OF_RANGE`); still a RangeError. */
export class PeerAuthRangeError extends RangeError {
  declare readonly code: string;
  constructor(message: string, code = 'PEERAUTH_ARGUMENT_OUT_OF_RANGE') {
    super(message);
    mark(this, code);
  }
}

export type ConnType = 'TCP' | 'UDP' | 'unknown';

export class NotUnixSocketError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_NOT_UNIX_SOCKET';
  readonly connType: ConnType;
  constructor(connType: ConnType) {
    super(
      'PEERAUTH_NOT_UNIX_SOCKET',
      `peer credentials need a connected Unix domain socket, got a ${connType === 'unknown' ? 'non-Unix' : connType} socket`,
    );
    this.connType = connType;
  }
}

export class PeerCredentialsUnavailableError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_PEER_CREDENTIALS_UNAVAILABLE' | 'PEERAUTH_NATIVE_ADDON_MISSING';
  readonly platform: string;
  readonly reason: string;
  constructor(
    platform: string,
    reason: string,
    code: 'PEERAUTH_NATIVE_ADDON_MISSING' | undefined = undefined,
  ) {
    super(
      code ?? 'PEERAUTH_PEER_CREDENTIALS_UNAVAILABLE',
      `peer credentials are unavailable on ${platform}: ${reason}`,
    );
    this.platform = platform;
    this.reason = reason;
  }
}

/**
 * No compiled addon for this platform: no prebuild ships for it and nothing was built from source. The
 * message carries the exact commands that build one, since the tarball holds no sources to build from
 * (shipping binding.gyp would make npm run node-gyp at install time).
 */
export class NativeAddonMissingError extends PeerCredentialsUnavailableError {
  declare readonly code: 'PEERAUTH_NATIVE_ADDON_MISSING';
  readonly buildCommands: readonly string[];
  constructor(platform: string, target: string, buildCommands: readonly string[]) {
    super(
      platform,
      `no prebuilt addon ships for ${target} and none was built from source. To build one:\n${buildCommands.map((c) => `  ${c}`).join('\n')}`,
      'PEERAUTH_NATIVE_ADDON_MISSING',
    );
    this.buildCommands = buildCommands;
  }
}

/** A syscall on the socket failed; `code` is the errno name (EBADF, ENOTCONN, ENOTSOCK, ...). */
export class PeerCredentialsError extends PeerAuthError {
  readonly errno: number | null;
  readonly syscall: string;
  constructor(code: string, syscall: string, errno: number | null, detail?: string) {
    super(code, `${syscall} failed with ${code}${detail ? `: ${detail}` : ''}`);
    this.errno = errno;
    this.syscall = syscall;
  }
}

export class LookupTimeoutError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_LOOKUP_TIMEOUT';
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number) {
    super(
      'PEERAUTH_LOOKUP_TIMEOUT',
      `${operation} did not finish within ${timeoutMs} ms; its worker was replaced`,
    );
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

export class PeerProcessExitedError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_PEER_PROCESS_EXITED';
  readonly pid: number;
  constructor(pid: number, detail: string) {
    super(
      'PEERAUTH_PEER_PROCESS_EXITED',
      `peer process ${pid} exited (${detail}); its pid may now belong to another process`,
    );
    this.pid = pid;
  }
}

export class PoolClosedError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_POOL_CLOSED';
  constructor(operation: string) {
    super('PEERAUTH_POOL_CLOSED', `${operation} called on a credential pool that is closed`);
  }
}

/**
 * The pool's queue for this caller (or the whole queue) is full: the call was refused at once rather than
 * queued without bound.
 */
export class PoolBusyError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_POOL_BUSY';
  readonly operation: string;
  constructor(operation: string, detail: string) {
    super('PEERAUTH_POOL_BUSY', `${operation} refused: ${detail}`);
    this.operation = operation;
  }
}

export class ExecutableTooLargeError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_EXECUTABLE_TOO_LARGE';
  readonly path: string;
  readonly maxBytes: number;
  constructor(path: string, maxBytes: number) {
    super(
      'PEERAUTH_EXECUTABLE_TOO_LARGE',
      `executable ${path} is larger than maxBytes (${maxBytes}); not hashed`,
    );
    this.path = path;
    this.maxBytes = maxBytes;
  }
}

/** A pool worker died (crashed or exited) while running the call; the pool replaces it. */
export class WorkerCrashedError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_WORKER_CRASHED';
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    super('PEERAUTH_WORKER_CRASHED', `worker running ${operation} died: ${describe(cause)}`, { cause });
    this.operation = operation;
  }
}

/** A directory or process lookup failed for a reason other than "no such entry". */
export class LookupFailedError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_LOOKUP_FAILED';
  readonly operation: string;
  readonly errnoName: string | null;
  constructor(operation: string, errnoName: string | null, detail: string) {
    super('PEERAUTH_LOOKUP_FAILED', `${operation} failed${errnoName ? ` with ${errnoName}` : ''}: ${detail}`);
    this.operation = operation;
    this.errnoName = errnoName;
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
