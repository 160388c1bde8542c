export type {
  Identity,
  IdentityConfig,
  Person,
  Resolver,
  TrailStep,
  UserDirectory,
} from '@peerauth/identity';
export { currentIdentity, tryCurrentIdentity } from '@peerauth/identity';
export type { AuditDecision, AuditEvent } from './audit.js';
export {
  type CacheOptions,
  type CacheStats,
  type CachingDirectory,
  createCachingDirectory,
} from './cache.js';
export {
  AddressInUseError,
  InvalidLogLevelError,
  InvalidModeError,
  NoActivationSocketError,
  PeerServerError,
  UnsafeSocketPathError,
} from './errors.js';
export { serveHttp } from './http.js';
export { LOG_LEVELS, type LogLevel, type PeerLogger, parseLogLevel } from './logger.js';
export { parseMode } from './mode.js';
export { peerOf } from './peers.js';
export { poolDirectory } from './pool-directory.js';
export {
  createPeerServer,
  defaultSocketPath,
  type PeerListener,
  type PeerServer,
  type PeerServerOptions,
  type RejectedEvent,
} from './server.js';
