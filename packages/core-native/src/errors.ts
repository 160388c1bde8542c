// Every failure of this package is a PeerAuthError with a stable `code`, so callers can branch on
// the code instead of parsing messages.

export class PeerAuthError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export type ConnType = 'TCP' | 'UDP' | 'unknown';

export class NotUnixSocketError extends PeerAuthError {
  declare readonly code: 'NOT_UNIX_SOCKET';
  readonly connType: ConnType;
  constructor(connType: ConnType) {
    super(
      'NOT_UNIX_SOCKET',
      `peer credentials need a connected Unix domain socket, got a ${connType === 'unknown' ? 'non-Unix' : connType} socket`,
    );
    this.connType = connType;
  }
}

export class PeerCredentialsUnavailableError extends PeerAuthError {
  declare readonly code: 'PEER_CREDENTIALS_UNAVAILABLE' | 'NATIVE_ADDON_MISSING';
  readonly platform: string;
  readonly reason: string;
  constructor(platform: string, reason: string, code: 'NATIVE_ADDON_MISSING' | undefined = undefined) {
    super(
      code ?? 'PEER_CREDENTIALS_UNAVAILABLE',
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
  declare readonly code: 'NATIVE_ADDON_MISSING';
  readonly buildCommands: readonly string[];
  constructor(platform: string, target: string, buildCommands: readonly string[]) {
    super(
      platform,
      `no prebuilt addon ships for ${target} and none was built from source. To build one:\n${buildCommands.map((c) => `  ${c}`).join('\n')}`,
      'NATIVE_ADDON_MISSING',
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
  declare readonly code: 'LOOKUP_TIMEOUT';
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number) {
    super('LOOKUP_TIMEOUT', `${operation} did not finish within ${timeoutMs} ms; its worker was replaced`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

export class PeerProcessExitedError extends PeerAuthError {
  declare readonly code: 'PEER_PROCESS_EXITED';
  readonly pid: number;
  constructor(pid: number, detail: string) {
    super(
      'PEER_PROCESS_EXITED',
      `peer process ${pid} exited (${detail}); its pid may now belong to another process`,
    );
    this.pid = pid;
  }
}

export class PoolClosedError extends PeerAuthError {
  declare readonly code: 'POOL_CLOSED';
  constructor(operation: string) {
    super('POOL_CLOSED', `${operation} called on a credential pool that is closed`);
  }
}

export class ExecutableTooLargeError extends PeerAuthError {
  declare readonly code: 'EXECUTABLE_TOO_LARGE';
  readonly path: string;
  readonly maxBytes: number;
  constructor(path: string, maxBytes: number) {
    super('EXECUTABLE_TOO_LARGE', `executable ${path} is larger than maxBytes (${maxBytes}); not hashed`);
    this.path = path;
    this.maxBytes = maxBytes;
  }
}

/** A pool worker died (crashed or exited) while running the call; the pool replaces it. */
export class WorkerCrashedError extends PeerAuthError {
  declare readonly code: 'WORKER_CRASHED';
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    super('WORKER_CRASHED', `worker running ${operation} died: ${describe(cause)}`, { cause });
    this.operation = operation;
  }
}

/** A directory or process lookup failed for a reason other than "no such entry". */
export class LookupFailedError extends PeerAuthError {
  declare readonly code: 'LOOKUP_FAILED';
  readonly operation: string;
  readonly errnoName: string | null;
  constructor(operation: string, errnoName: string | null, detail: string) {
    super('LOOKUP_FAILED', `${operation} failed${errnoName ? ` with ${errnoName}` : ''}: ${detail}`);
    this.operation = operation;
    this.errnoName = errnoName;
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
