// This package depends on zod only, so it cannot extend @peerauth/core-native's PeerAuthError; its errors
// carry the same registry mark instead, so core-native's isPeerAuthError() recognises them too.
const PEERAUTH_ERROR = Symbol.for('@peerauth/error');

function mark(err: Error, code: string): void {
  Object.defineProperty(err, PEERAUTH_ERROR, { value: true });
  (err as unknown as { code: string }).code = code;
}

/** Base class of every error this package throws; `code` is stable, the message is for humans. */
export class IdentityError extends Error {
  declare readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    mark(this, code);
  }
}

/** A numeric option outside its range (`PEERAUTH_ARGUMENT_OUT_OF_RANGE`); still a RangeError. */
export class IdentityRangeError extends RangeError {
  declare readonly code: string;

  constructor(message: string, code = 'PEERAUTH_ARGUMENT_OUT_OF_RANGE') {
    super(message);
    mark(this, code);
  }
}

export interface ConfigIssue {
  /**
   * Where in the config as zod writes it, e.g. `people[2].role`, `groupRoles["my-group"]`; `(root)` for the
   * document itself, `(file)` when the file could not be read.
   */
  path: string;
  /** The same place as keys and indexes, e.g. `['groupRoles', 'my-group']`; empty for `(root)` and `(file)`. */
  segments: (string | number)[];
  message: string;
}

/** Every problem found in a config at once, so one edit-check cycle fixes them all. */
export class IdentityConfigError extends IdentityError {
  declare readonly code: 'PEERAUTH_IDENTITY_CONFIG_INVALID';
  readonly issues: ConfigIssue[];
  /** The file the config came from, when it came from one. */
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], file?: string, options?: ErrorOptions) {
    const where = file ? `identity config ${file}` : 'identity config';
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    const lines = issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
    super('PEERAUTH_IDENTITY_CONFIG_INVALID', `${where} is invalid (${count}):\n${lines}`, options);
    this.issues = issues;
    this.file = file;
  }
}

/** `currentIdentity()` was called outside `runWithIdentity`. */
export class NoIdentityError extends IdentityError {
  declare readonly code: 'PEERAUTH_NO_IDENTITY';

  constructor(message = 'no peer identity in this async context (call inside runWithIdentity)') {
    super('PEERAUTH_NO_IDENTITY', message);
  }
}

export class InvalidTrustDomainError extends IdentityError {
  declare readonly code: 'PEERAUTH_INVALID_TRUST_DOMAIN';
  readonly trustDomain: string;

  constructor(trustDomain: string, reason: string) {
    super('PEERAUTH_INVALID_TRUST_DOMAIN', `invalid trust domain ${JSON.stringify(trustDomain)}: ${reason}`);
    this.trustDomain = trustDomain;
  }
}

/** A uid outside 0..2^32-1 cannot come from the kernel; it is a programming error upstream. */
export class InvalidUidError extends IdentityError {
  declare readonly code: 'PEERAUTH_INVALID_UID';
  readonly uid: unknown;

  constructor(uid: unknown) {
    super('PEERAUTH_INVALID_UID', `invalid uid ${String(uid)}: expected an integer in 0..4294967295`);
    this.uid = uid;
  }
}

/** Which directory call failed: the passwd entry, the directory's group list, or the names of gids. */
export type IdentityLookup = 'userByUid' | 'groupsOf' | 'groupsByGid';

/**
 * A user or group lookup failed or timed out, so who the peer is is unknown. Not "no such entry": that is
 * an answer (a stranger). With lookupFailure "reject" (the default) resolution fails with this error.
 */
export class IdentityLookupError extends IdentityError {
  declare readonly code: 'PEERAUTH_IDENTITY_LOOKUP_FAILED';
  readonly lookup: IdentityLookup;
  /** What was looked up, e.g. `uid 4002`, `gids 27, 7999`, `user "alice" (gid 100)`. */
  readonly subject: string;
  /** The cause in a sentence (`timed out after 1000 ms`, `PEERAUTH_LOOKUP_FAILED: getpwuid_r failed: ...`). */
  readonly reason: string;
  readonly timedOut: boolean;

  constructor(
    lookup: IdentityLookup,
    subject: string,
    reason: string,
    timedOut: boolean,
    options?: ErrorOptions,
  ) {
    super(
      'PEERAUTH_IDENTITY_LOOKUP_FAILED',
      `${lookup} for ${subject} ${timedOut ? 'timed out' : 'failed'} (${reason}): the peer's identity is unknown`,
      options,
    );
    this.lookup = lookup;
    this.subject = subject;
    this.reason = reason;
    this.timedOut = timedOut;
  }
}
