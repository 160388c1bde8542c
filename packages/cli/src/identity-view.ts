import type { Identity, SvidIdentity, UnixIdentity } from '@peerauth/identity';

/** The JSON that /whoami returns: exactly these fields, person reduced to its name. */
export interface WhoamiBody {
  uid: number;
  gid: number;
  pid: number | null;
  groups: number[] | null;
  username: string | null;
  person: string | null;
  role: string;
  fallback: boolean;
  spiffeId: string;
  selectors: string[];
}

export function whoamiBody(id: UnixIdentity): WhoamiBody {
  return {
    uid: id.uid,
    gid: id.gid,
    pid: id.pid,
    groups: id.groups,
    username: id.username,
    person: id.person?.name ?? null,
    role: id.role,
    fallback: id.fallback,
    spiffeId: id.spiffeId,
    selectors: id.selectors,
  };
}

/** What /whoami returns for a caller on another machine (mutual TLS): exactly these fields. */
export interface RemoteWhoamiBody {
  auth: 'x509-svid';
  spiffeId: string;
  trustDomain: string;
  person: string | null;
  role: string;
  fallback: boolean;
}

export function remoteWhoamiBody(id: SvidIdentity): RemoteWhoamiBody {
  return {
    auth: 'x509-svid',
    spiffeId: id.spiffeId,
    trustDomain: id.trustDomain,
    person: id.person?.name ?? null,
    role: id.role,
    fallback: id.fallback,
  };
}

/** Who a log line of the proxy is about: a Unix peer's uid, a remote peer's SPIFFE ID. */
export function peerLogFields(id: Identity): { peerUid: number } | { spiffeId: string } {
  return id.auth === 'unix' ? { peerUid: id.uid } : { spiffeId: id.spiffeId };
}

/** The identity as headers for an upstream (proxy) and as environment for a child (exec). */
export function identityFields(
  id: UnixIdentity,
): Record<'uid' | 'gid' | 'pid' | 'user' | 'person' | 'role' | 'spiffeId', string> {
  return {
    uid: String(id.uid),
    gid: String(id.gid),
    pid: id.pid === null ? '' : String(id.pid),
    user: id.username ?? '',
    person: id.person?.name ?? '',
    role: id.role,
    spiffeId: id.spiffeId,
  };
}
