// With lookupFailure "fallback" an identity can be built without an answer the directory failed to give.
// It is right for this connection only: whoever remembers identities (the server's memo, any cache) must
// ask again next time. The mark is a non-enumerable property under a registered symbol, so it survives
// freezing, stays out of JSON and audit lines, and is seen by every copy of this package.
import type { Identity } from './types.js';

const LOOKUP_FAILED = Symbol.for('@peerauth/identity.lookupFailed');

export function markLookupFailed<T extends Identity>(identity: T): T {
  Object.defineProperty(identity, LOOKUP_FAILED, { value: true, enumerable: false });
  return identity;
}

/** True when a directory lookup failed or timed out while resolving `identity` (lookupFailure "fallback"). */
export function lookupFailedDuring(identity: Identity): boolean {
  return (identity as unknown as Record<symbol, unknown>)[LOOKUP_FAILED] === true;
}
