export type {
  Identity,
  IdentityConfig,
  ParsedIdentityConfig,
  Person,
  Resolver,
  TrailStep,
  UserDirectory,
} from '@peerauth/identity';
export { currentIdentity, tryCurrentIdentity } from '@peerauth/identity';
export type { AuditDecision, AuditEvent, AuditPeer } from './audit.js';
export {
  type CacheOptions,
  type CacheStats,
  type CachingDirectory,
  createCachingDirectory,
} from './cache.js';
export { answerUidCounts, type CountChannel, LeasedUidCounts, RemoteUidCounts } from './cluster-limits.js';
export {
  CONNECTION_CHANNEL,
  type ConnectionDecision,
  type ConnectionMessage,
} from './connection-channel.js';
export { type UidCountStore, UidCounts, useUidCountStore } from './connection-limits.js';
export { directLines } from './direct-lines.js';
export {
  AddressInUseError,
  DirectoryNoAnswerError,
  InvalidLogLevelError,
  InvalidModeError,
  InvalidServerOptionError,
  NoActivationSocketError,
  PeerServerError,
  SocketDirectoryMissingError,
  SocketDirectoryNotWritableError,
  SocketPathTooLongError,
  TlsMaterialError,
  UnsafeSocketPathError,
} from './errors.js';
export { serveHttp } from './http.js';
export { bufferedDestination } from './log-buffer.js';
export { flushLogs } from './log-flush.js';
export { createJsonLogger, type PeerLogger } from './logger.js';
export { parseMode } from './mode.js';
export { LOG_LEVELS, type LogLevel, MAX_PENDING_HANDSHAKES_LIMIT, parseLogLevel } from './options.js';
export { peerOf } from './peers.js';
export { poolDirectory } from './pool-directory.js';
export { checkSocketDirectoryWritable } from './private-dir.js';
export {
  type AdmitHook,
  createPeerServer,
  defaultSocketPath,
  type PeerListener,
  type PeerServer,
  type PeerServerOptions,
  type RejectedEvent,
} from './server.js';
export { onShutdownSignals, SHUTDOWN_SIGNALS, type ShutdownSignals } from './signals.js';
export { checkSocketDirectory, checkSocketPathLength, maxSocketPathBytes } from './socket-directory.js';
export { checkDefaultSocketDirectory, type ExistingPath, inspectSocketPath } from './socket-file.js';
export { socketReachWarning } from './socket-reach.js';
export { checkTlsFiles, keyModeWarning, mergedBundleWarning, type TlsFileCheck } from './tls-check.js';
export type { TlsListenOptions } from './tls-listener.js';
