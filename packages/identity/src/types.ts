import type { Person } from './config.js';

/** Where usernames and group names come from (the core-native worker pool in production). */
/**
 * A directory answer: a promise for a real lookup, or the value itself when it is already known (a cache
 * hit). A plain value skips the resolver's timeout timer, so cached answers cost no timer and no race.
 */
export type MaybePromise<T> = T | Promise<T>;

export interface UserDirectory {
  /** The passwd entry for `uid`, or null when there is none. */
  userByUid(uid: number): MaybePromise<{ name: string; gid: number } | null>;
  /** The groups `name` belongs to, including `gid` (getgrouplist semantics), with their names. */
  groupsOf(name: string, gid: number): MaybePromise<{ gid: number; name: string }[]>;
  /**
   * Optional: the name of one group. Used for gids the peer holds that groupsOf did not name (a group
   * gained through setgid or newgrp, or a peer without a passwd entry). Without it such gids stay unnamed.
   */
  groupByGid?(gid: number): MaybePromise<{ gid: number; name: string } | null>;
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

export interface Identity {
  uid: number;
  gid: number;
  pid: number | null;
  groups: number[] | null;
  username: string | null;
  person: Person | null;
  role: string;
  /** True when no person and no group matched, so `role` is the config's fallbackRole. */
  fallback: boolean;
  spiffeId: string;
  selectors: string[];
  trail: TrailStep[];
}

export interface Logger {
  warn(obj: object, msg?: string): void;
}
