export {
  DEFAULT_FALLBACK_ROLE,
  DEFAULT_TRUST_DOMAIN,
  formatIssuePath,
  type IdentityConfig,
  isParsedIdentityConfig,
  LOOKUP_FAILURE_MODES,
  type LookupFailureMode,
  type ParsedIdentityConfig,
  type Person,
  type ProxyConfig,
  parseIdentityConfig,
  validateIdentityConfig,
} from './config.js';
export { loadIdentityConfig, MAX_CONFIG_BYTES } from './config-file.js';
export { currentIdentity, runWithIdentity, tryCurrentIdentity } from './context.js';
export {
  type ConfigIssue,
  IdentityConfigError,
  IdentityError,
  type IdentityLookup,
  IdentityLookupError,
  IdentityRangeError,
  InvalidBundleError,
  InvalidSpiffeIdError,
  InvalidTrustDomainError,
  InvalidUidError,
  MalformedCertificateError,
  NoIdentityError,
  type SvidErrorCode,
  SvidVerificationError,
} from './errors.js';
export { type GroupNamer, groupNamer } from './group-namer.js';
export { lookupFailedDuring, unnamedGroupIn, withPid } from './lookup-failed.js';
export { type ControlCharacter, findControlCharacter, quoteValue } from './printable.js';
export {
  createResolver,
  DEFAULT_MAX_GROUP_NAMES,
  DEFAULT_TIMEOUT_MS,
  isResolver,
  type Resolver,
  type ResolverOptions,
} from './resolver.js';
export { buildSelectors, type NamedGroup, type SelectorInput } from './selectors.js';
export {
  decodeExecutableSegment,
  encodeExecutableSegment,
  executableName,
  formatSpiffeId,
  MAX_EXECUTABLE_SEGMENT_BYTES,
  MAX_SPIFFE_ID_BYTES,
  trustDomainProblem,
} from './spiffe.js';
export { parseSpiffeId, type SpiffeId, spiffeIdProblem } from './spiffe-id.js';
export { didYouMean } from './suggest.js';
export {
  bundleSet,
  certificateSpiffeId,
  checkSvidLeaf,
  checkSvidRules,
  loadBundle,
  type SvidLeaf,
  type TrustBundle,
  type TrustBundleSet,
  uriSans,
  type VerifiedSvid,
} from './svid.js';
export type {
  DirectoryCaller,
  Identity,
  IdentityBase,
  Logger,
  MaybePromise,
  PeerCredentialsLike,
  ProcessLike,
  SvidIdentity,
  TrailStep,
  UnixIdentity,
  UserDirectory,
} from './types.js';
