export { addonOrigin } from './addon.js';
export { buildFromSourceCommands } from './build-from-source.js';
export type { PeerCredentials } from './credentials.js';
export {
  closePidfd,
  formatCredentials,
  getPeerCredentials,
  openPeerPidfd,
  platformSupport,
} from './credentials.js';
export {
  type ConnType,
  defineError,
  ExecutableTooLargeError,
  formatError,
  InvalidArgumentError,
  isPeerAuthError,
  LookupFailedError,
  LookupTimeoutError,
  NativeAddonMissingError,
  NotUnixSocketError,
  PeerAuthError,
  type PeerAuthErrorBase,
  type PeerAuthErrorLike,
  PeerAuthRangeError,
  PeerAuthTypeError,
  PeerCredentialsError,
  PeerCredentialsUnavailableError,
  PeerProcessExitedError,
  PoolBusyError,
  PoolClosedError,
  SubreaperFailedError,
  WorkerCrashedError,
} from './errors.js';
export type { CredentialPool, CredentialPoolOptions, GroupEntry, ProcessInfo, UserEntry } from './pool.js';
export { createCredentialPool } from './pool.js';
export { unixSocketName } from './socket-name.js';
export { becomeChildSubreaper, reapOrphan } from './subreaper.js';
