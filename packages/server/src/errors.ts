// This package's error table: every code it throws, once, with its message. The model they share (the
// marker, defineError, the invalid-argument error) is @peerauth/core-native's.
import { defineError, PeerAuthError } from '@peerauth/core-native';

/** Base class for every error this package throws or emits; `code` is stable across releases. */
export class PeerServerError extends PeerAuthError {}

/** Another server answers on the socket path; its socket file is left untouched. */
export class AddressInUseError extends defineError(
  'PEERAUTH_ADDRESS_IN_USE',
  (path: string, detail?: string) =>
    `socket path ${path} is in use: ${detail ?? 'another server is accepting connections on it'}`,
  PeerServerError,
) {
  readonly path: string;
  constructor(path: string, detail?: string) {
    super(path, detail);
    this.path = path;
  }
}

/** A socket mode that is not an octal permission value between 0 and 0o777. */
export class InvalidModeError extends defineError(
  'PEERAUTH_INVALID_MODE',
  (mode: unknown, detail: string) => `invalid socket mode ${JSON.stringify(mode)}: ${detail}`,
  PeerServerError,
) {
  readonly mode: unknown;
  constructor(mode: unknown, detail: string) {
    super(mode, detail);
    this.mode = mode;
  }
}

/**
 * The socket path (or its directory) is something the server must not replace or trust: a regular file,
 * a directory, a symlink (`PEERAUTH_UNSAFE_SOCKET_PATH`), or a directory someone other than the server's user or
 * root could write to (`PEERAUTH_UNSAFE_SOCKET_DIRECTORY`).
 */
export class UnsafeSocketPathError extends PeerServerError {
  declare readonly code: 'PEERAUTH_UNSAFE_SOCKET_PATH' | 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY';
  readonly path: string;
  constructor(
    path: string,
    detail: string,
    code: 'PEERAUTH_UNSAFE_SOCKET_PATH' | 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY' = 'PEERAUTH_UNSAFE_SOCKET_PATH',
  ) {
    const what = code === 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY' ? 'socket directory' : 'socket path';
    super(code, `refusing ${what} ${path}: ${detail}`);
    this.path = path;
  }
}

/** The socket path does not fit in `sun_path`: clients could not connect to it. */
export class SocketPathTooLongError extends defineError(
  'PEERAUTH_SOCKET_PATH_TOO_LONG',
  (path: string, bytes: number, limit: number) =>
    `socket path ${path} is ${bytes} bytes; Unix socket paths on ${process.platform} hold at most ${limit} ` +
    'bytes (sun_path). Choose a shorter path, e.g. in /run/peerauth',
  PeerServerError,
) {
  readonly path: string;
  readonly limit: number;
  constructor(path: string, bytes: number, limit: number) {
    super(path, bytes, limit);
    this.path = path;
    this.limit = limit;
  }
}

/** The directory of an explicitly given socket path does not exist (the server creates only its default one). */
export class SocketDirectoryMissingError extends defineError(
  'PEERAUTH_SOCKET_DIRECTORY_MISSING',
  (path: string) =>
    `socket directory ${path} does not exist; create it (owned by the server's user, mode 0755 or 0700) ` +
    'or choose another socket path',
  PeerServerError,
) {
  readonly path: string;
  constructor(path: string) {
    super(path);
    this.path = path;
  }
}

/**
 * The server cannot create entries in the socket's directory (no write permission, a read-only mount):
 * named by the directory the user chose, never by the private directory the server tried to make in it.
 */
export class SocketDirectoryNotWritableError extends defineError(
  'PEERAUTH_SOCKET_DIRECTORY_NOT_WRITABLE',
  (path: string, errno: string | undefined) => {
    const why =
      errno === 'EROFS'
        ? 'it is on a read-only file system'
        : errno === 'EACCES' || errno === 'EPERM'
          ? "this process may not create files in it (permissions; a root server without CAP_DAC_OVERRIDE needs the directory's own write bit)"
          : 'creating an entry in it failed';
    return `cannot create the socket in ${path}: ${why}${errno ? ` (${errno})` : ''}; choose a directory the server's user can write to`;
  },
  PeerServerError,
) {
  readonly path: string;
  readonly errno: string | undefined;
  constructor(path: string, errno: string | undefined) {
    super(path, errno);
    this.path = path;
    this.errno = errno;
  }
}

/** `listenFds: true` was asked for but the process was not socket-activated. */
export class NoActivationSocketError extends defineError(
  'PEERAUTH_NO_ACTIVATION_SOCKET',
  (detail: string) => `systemd socket activation requested but unavailable: ${detail}`,
  PeerServerError,
) {}

/** PEERAUTH_LOG_LEVEL names no pino level; `levels` lists the valid ones. */
export class InvalidLogLevelError extends defineError(
  'PEERAUTH_INVALID_LOG_LEVEL',
  (level: string, levels: readonly string[]) =>
    `PEERAUTH_LOG_LEVEL must be one of ${levels.join(', ')}, got "${level}"`,
  PeerServerError,
) {
  readonly level: string;
  readonly levels: readonly string[];
  constructor(level: string, levels: readonly string[]) {
    super(level, levels);
    this.level = level;
    this.levels = levels;
  }
}

/** A directory's batch lookup (`groupsByGid`) returned without an entry for one of the keys asked for. */
export class DirectoryNoAnswerError extends defineError(
  'PEERAUTH_DIRECTORY_NO_ANSWER',
  (key: string) => `the directory gave no answer for ${key}`,
  PeerServerError,
) {
  readonly key: string;
  constructor(key: string) {
    super(key);
    this.key = key;
  }
}

/** A createPeerServer option with a value it cannot take; `option` names it. */
export class InvalidServerOptionError extends defineError(
  'PEERAUTH_INVALID_SERVER_OPTION',
  (option: string, value: unknown, detail: string) => {
    const shown = typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
    return `invalid ${option} ${shown}: ${detail}`;
  },
  PeerServerError,
) {
  readonly option: string;
  constructor(option: string, value: unknown, detail: string) {
    super(option, value, detail);
    this.option = option;
  }
}

/** A certificate, key or bundle file of the TLS listener that cannot be used; `file` names it. */
export class TlsMaterialError extends defineError(
  'PEERAUTH_TLS_MATERIAL',
  (file: string, detail: string, _options?: ErrorOptions) => `TLS file ${file}: ${detail}`,
  PeerServerError,
  (_file, _detail, options) => options,
) {
  readonly file: string;
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(file, detail, options);
    this.file = file;
  }
}
