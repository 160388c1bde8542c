import type { Person } from './config.js';

/**
 * A directory answer: a promise for a real lookup, or the value itself when it is already known (a cache
 * hit). A plain value skips the resolver's timeout timer, so cached answers cost no timer and no race.
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Who a directory call is for: the connecting peer's uid. A directory may use it to share its work fairly
 * between peers (the server's pool runs one lookup per peer at a time); the answer must not depend on it.
 */
export interface DirectoryCaller {
  uid: number;
}

/** Where usernames and group names come from (the core-native worker pool in production). */
export interface UserDirectory {
  /** The passwd entry for `uid`, or null when there is none. */
  userByUid(uid: number): MaybePromise<{ name: string; gid: number } | null>;
  /**
   * The groups `name` belongs to, including `gid` (getgrouplist semantics). Only consulted where the
   * kernel reported no group list. `name` is null for a gid without a group entry: never its number.
   */
  groupsOf(
    name: string,
    gid: number,
    caller?: DirectoryCaller,
  ): MaybePromise<{ gid: number; name: string | null }[]>;
  /**
   * Optional: the names of these gids in one call (getgrgid each), one entry per gid, name null when the
   * gid has no group entry; reject when a lookup fails. Names the kernel's group list (primary gid and
   * supplementary groups). Without it only the groups groupsOf names are named.
   */
  groupsByGid?(
    gids: readonly number[],
    caller?: DirectoryCaller,
  ): MaybePromise<{ gid: number; name: string | null }[]>;
}

/** Kernel credentials of the peer (core-native's PeerCredentials has this shape). */
export interface PeerCredentialsLike {
  pid: number | null;
  uid: number;
  gid: number;
  /** Supplementary groups as the kernel reports them; null where the platform cannot tell. */
  groups: number[] | null;
}

/** The peer's executable, when attested. */
export interface ProcessLike {
  pid: number;
  exePath: string;
  sha256?: string;
}

export interface TrailStep {
  stage: 'username' | 'person' | 'role' | 'spiffe';
  /** What the stage decided: the username, the person's name, the role, the SPIFFE ID (null: nothing found). */
  result: string | null;
  /** Why, in a sentence, for `peerauth resolve` and audit logs. */
  detail: string;
}

/** What every identity has, however the peer was authenticated. */
export interface IdentityBase {
  person: Person | null;
  role: string;
  /** True when no person and no group matched, so `role` is the config's fallbackRole. */
  fallback: boolean;
  spiffeId: string;
  selectors: string[];
  trail: TrailStep[];
}

/** A local peer on a Unix socket: its ids are what the kernel reported at connect. */
export interface UnixIdentity extends IdentityBase {
  auth: 'unix';
  uid: number;
  gid: number;
  pid: number | null;
  groups: number[] | null;
  username: string | null;
}

/**
 * A remote peer authenticated by a verified X.509-SVID: its SPIFFE ID is the certificate's URI SAN. It has no
 * uid, gid, pid, groups or username: those exist only for a peer on this machine.
 */
export interface SvidIdentity extends IdentityBase {
  auth: 'x509-svid';
  /** The trust domain of the SVID, whose bundle it chained to. */
  trustDomain: string;
}

/** How the caller was authenticated decides which fields exist: narrow on `auth`. */
export type Identity = UnixIdentity | SvidIdentity;

export interface Logger {
  warn(obj: object, msg?: string): void;
}
