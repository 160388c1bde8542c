// Repeat connections from the same client process (an HTTP client without keep-alive, a connection pool)
// carry the same credentials, and with the directory answers cached their identity is the same object
// the resolver would build again. Remembering it skips the resolver and every promise on that path, so
// such a connection is admitted synchronously in its accept callback.
//
// Only identities with a username and built without a failed lookup are remembered: with lookupFailure
// "fallback" a failed or timed-out lookup (of the user or of any group) must be retried by the next
// connection rather than pinned for the TTL. Identities with process attestation are never
// remembered (the same pid can exec another program). Shared identities are frozen so no connection can
// change what another one sees.
import type { PeerCredentials } from '@peerauth/core-native';
import { lookupFailedDuring, type UnixIdentity } from '@peerauth/identity';

interface Memo {
  identity: UnixIdentity;
  expiresAt: number;
}

export class IdentityMemo {
  private readonly map = new Map<string, Memo>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  private static key(c: PeerCredentials): string {
    return c.groups === null
      ? `${c.uid}:${c.gid}:${c.pid}`
      : `${c.uid}:${c.gid}:${c.pid}:${c.groups.join(',')}`;
  }

  get(credentials: PeerCredentials): UnixIdentity | undefined {
    if (this.max === 0) return undefined;
    const key = IdentityMemo.key(credentials);
    const memo = this.map.get(key);
    if (memo === undefined) return undefined;
    if (memo.expiresAt > this.now()) return memo.identity;
    this.map.delete(key);
    return undefined;
  }

  remember(credentials: PeerCredentials, identity: UnixIdentity): UnixIdentity {
    if (this.max === 0 || identity.username === null || lookupFailedDuring(identity)) return identity;
    Object.freeze(identity.trail);
    Object.freeze(identity.selectors);
    if (identity.groups) Object.freeze(identity.groups);
    Object.freeze(identity);
    this.map.set(IdentityMemo.key(credentials), { identity, expiresAt: this.now() + this.ttlMs });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
    return identity;
  }

  clear(): void {
    this.map.clear();
  }
}
