// This package's error table: every code it throws, once, with its message. The model they share (the
// marker, PeerAuthError, defineError, the invalid-argument error) is error-base.ts, which every peerauth
// package imports from here.
import { defineError, PeerAuthError } from './error-base.js';

export {
  defineError,
  InvalidArgumentError,
  isPeerAuthError,
  PeerAuthError,
  type PeerAuthErrorBase,
  type PeerAuthErrorLike,
  PeerAuthRangeError,
  PeerAuthTypeError,
} from './error-base.js';

/**
 * `CODE: message`, the one text form of an error in audit reasons and CLI output. A value without a string
 * `code` gives `fallbackCode: message`; one without a string `message` (a thrown non-error) its String().
 */
export function formatError(err: unknown, fallbackCode = 'ERROR'): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : fallbackCode;
  return `${code}: ${typeof e.message === 'string' ? e.message : String(err)}`;
}

export type ConnType = 'TCP' | 'UDP' | 'unknown';

export class NotUnixSocketError extends defineError(
  'PEERAUTH_NOT_UNIX_SOCKET',
  (connType: ConnType) =>
    `peer credentials need a connected Unix domain socket, got a ${connType === 'unknown' ? 'non-Unix' : connType} socket`,
) {
  readonly connType: ConnType;
  constructor(connType: ConnType) {
    super(connType);
    this.connType = connType;
  }
}

const unavailable = (platform: string, reason: string) =>
  `peer credentials are unavailable on ${platform}: ${reason}`;

export class PeerCredentialsUnavailableError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_PEER_CREDENTIALS_UNAVAILABLE' | 'PEERAUTH_NATIVE_ADDON_MISSING';
  readonly platform: string;
  readonly reason: string;
  constructor(
    platform: string,
    reason: string,
    code: 'PEERAUTH_NATIVE_ADDON_MISSING' | undefined = undefined,
  ) {
    super(code ?? 'PEERAUTH_PEER_CREDENTIALS_UNAVAILABLE', unavailable(platform, reason));
    this.platform = platform;
    this.reason = reason;
  }
}

/**
 * No compiled addon for this platform (`PEERAUTH_NATIVE_ADDON_MISSING`): no prebuild ships for it and
 * nothing was built from source. The message carries the exact commands that build one, since the tarball
 * holds no sources to build from (shipping binding.gyp would make npm run node-gyp at install time).
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

/** A syscall on the socket failed; `code` is the errno name (EBADF, ENOTCONN, ENOTSOCK, ...), never a PEERAUTH_ code. */
export class PeerCredentialsError extends PeerAuthError {
  readonly errno: number | null;
  readonly syscall: string;
  constructor(code: string, syscall: string, errno: number | null, detail?: string) {
    super(code, `${syscall} failed with ${code}${detail ? `: ${detail}` : ''}`);
    this.errno = errno;
    this.syscall = syscall;
  }
}

export class LookupTimeoutError extends defineError(
  'PEERAUTH_LOOKUP_TIMEOUT',
  (operation: string, timeoutMs: number) =>
    `${operation} did not finish within ${timeoutMs} ms; its worker was replaced`,
) {
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number) {
    super(operation, timeoutMs);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

export class PeerProcessExitedError extends defineError(
  'PEERAUTH_PEER_PROCESS_EXITED',
  (pid: number, detail: string) =>
    `peer process ${pid} exited (${detail}); its pid may now belong to another process`,
) {
  readonly pid: number;
  constructor(pid: number, detail: string) {
    super(pid, detail);
    this.pid = pid;
  }
}

export class PoolClosedError extends defineError(
  'PEERAUTH_POOL_CLOSED',
  (operation: string) => `${operation} called on a credential pool that is closed`,
) {}

/**
 * The pool's queue for this caller (or the whole queue) is full: the call was refused at once rather than
 * queued without bound.
 */
export class PoolBusyError extends defineError(
  'PEERAUTH_POOL_BUSY',
  (operation: string, detail: string) => `${operation} refused: ${detail}`,
) {
  readonly operation: string;
  constructor(operation: string, detail: string) {
    super(operation, detail);
    this.operation = operation;
  }
}

export class ExecutableTooLargeError extends defineError(
  'PEERAUTH_EXECUTABLE_TOO_LARGE',
  (path: string, maxBytes: number) => `executable ${path} is larger than maxBytes (${maxBytes}); not hashed`,
) {
  readonly path: string;
  readonly maxBytes: number;
  constructor(path: string, maxBytes: number) {
    super(path, maxBytes);
    this.path = path;
    this.maxBytes = maxBytes;
  }
}

/** A pool worker died (crashed or exited) while running the call; the pool replaces it. */
export class WorkerCrashedError extends defineError(
  'PEERAUTH_WORKER_CRASHED',
  (operation: string, cause: unknown) => `worker running ${operation} died: ${describe(cause)}`,
  PeerAuthError,
  (_operation, cause) => ({ cause }),
) {
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    super(operation, cause);
    this.operation = operation;
  }
}

/** A directory or process lookup failed for a reason other than "no such entry". */
export class LookupFailedError extends defineError(
  'PEERAUTH_LOOKUP_FAILED',
  (operation: string, errnoName: string | null, detail: string) =>
    `${operation} failed${errnoName ? ` with ${errnoName}` : ''}: ${detail}`,
) {
  readonly operation: string;
  readonly errnoName: string | null;
  constructor(operation: string, errnoName: string | null, detail: string) {
    super(operation, errnoName, detail);
    this.operation = operation;
    this.errnoName = errnoName;
  }
}

/** prctl(PR_SET_CHILD_SUBREAPER) itself failed (never seen on Linux >= 3.4); `errnoName` says how. */
export class SubreaperFailedError extends defineError(
  'PEERAUTH_SUBREAPER_FAILED',
  (errnoName: string) => `prctl(PR_SET_CHILD_SUBREAPER) failed: ${errnoName}`,
) {
  readonly errnoName: string;
  constructor(errnoName: string) {
    super(errnoName);
    this.errnoName = errnoName;
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
