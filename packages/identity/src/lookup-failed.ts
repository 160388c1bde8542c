// Marks for whoever remembers identities (the server's memo, any cache). With lookupFailure "fallback" an
// identity can be built without an answer the directory failed to give: it is right for this connection
// only, and must be asked for again next time. An identity built while a gid had no name rests on a
// negative answer, which a directory cache keeps only briefly (a group created now must count soon): it
// must not be remembered longer than that. Each mark is a non-enumerable property under a registered
// symbol, so it survives freezing, stays out of JSON and audit lines, and is seen by every copy of this
// package.
import type { Identity, UnixIdentity } from './types.js';

const LOOKUP_FAILED = Symbol.for('@peerauth/identity.lookupFailed');
const UNNAMED_GROUP = Symbol.for('@peerauth/identity.unnamedGroup');

export function markLookupFailed<T extends Identity>(identity: T): T {
  Object.defineProperty(identity, LOOKUP_FAILED, { value: true, enumerable: false });
  return identity;
}

/** True when a directory lookup failed or timed out while resolving `identity` (lookupFailure "fallback"). */
export function lookupFailedDuring(identity: Identity): boolean {
  return (identity as unknown as Record<symbol, unknown>)[LOOKUP_FAILED] === true;
}

export function markUnnamedGroup<T extends Identity>(identity: T): T {
  Object.defineProperty(identity, UNNAMED_GROUP, { value: true, enumerable: false });
  return identity;
}

/** True when one of the peer's gids (primary or supplementary) had no name when `identity` was built. */
export function unnamedGroupIn(identity: Identity): boolean {
  return (identity as unknown as Record<symbol, unknown>)[UNNAMED_GROUP] === true;
}

/**
 * `identity` for another process with the same uid, gid and groups: a frozen copy with `pid`, marks
 * included (nothing else in an identity depends on the pid).
 */
export function withPid(identity: UnixIdentity, pid: number | null): UnixIdentity {
  const copy = { ...identity, pid };
  if (lookupFailedDuring(identity)) markLookupFailed(copy);
  if (unnamedGroupIn(identity)) markUnnamedGroup(copy);
  return Object.freeze(copy);
}
