// This package's error table: every code it throws, once, with its message. The model they share with the
// other packages is error-base.ts, the twin of @peerauth/core-native's (this package depends on zod alone).
import { defineError, PeerAuthError, PeerAuthRangeError } from './error-base.js';

/** Base class of every error this package throws but the range error; `code` is stable, the message is for humans. */
export class IdentityError extends PeerAuthError {}

/**
 * A numeric option outside its range (`PEERAUTH_ARGUMENT_OUT_OF_RANGE`): @peerauth/core-native's
 * PeerAuthRangeError, the invalid-argument error's out-of-range form, under the name it had here.
 */
export const IdentityRangeError = PeerAuthRangeError;
export type IdentityRangeError = PeerAuthRangeError;

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
export class IdentityConfigError extends defineError(
  'PEERAUTH_IDENTITY_CONFIG_INVALID',
  (issues: ConfigIssue[], file?: string, _options?: ErrorOptions) => {
    const where = file ? `identity config ${file}` : 'identity config';
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    const lines = issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
    return `${where} is invalid (${count}):\n${lines}`;
  },
  IdentityError,
  (_issues, _file, options) => options,
) {
  readonly issues: ConfigIssue[];
  /** The file the config came from, when it came from one. */
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], file?: string, options?: ErrorOptions) {
    super(issues, file, options);
    this.issues = issues;
    this.file = file;
  }
}

/** `currentIdentity()` was called outside `runWithIdentity`. */
export class NoIdentityError extends defineError(
  'PEERAUTH_NO_IDENTITY',
  (message?: string) => message ?? 'no peer identity in this async context (call inside runWithIdentity)',
  IdentityError,
) {}

export class InvalidTrustDomainError extends defineError(
  'PEERAUTH_INVALID_TRUST_DOMAIN',
  (trustDomain: string, reason: string) => `invalid trust domain ${JSON.stringify(trustDomain)}: ${reason}`,
  IdentityError,
) {
  readonly trustDomain: string;

  constructor(trustDomain: string, reason: string) {
    super(trustDomain, reason);
    this.trustDomain = trustDomain;
  }
}

/** A uid outside 0..2^32-1 cannot come from the kernel; it is a programming error upstream. */
export class InvalidUidError extends defineError(
  'PEERAUTH_INVALID_UID',
  (uid: unknown) => `invalid uid ${String(uid)}: expected an integer in 0..4294967295`,
  IdentityError,
) {
  readonly uid: unknown;

  constructor(uid: unknown) {
    super(uid);
    this.uid = uid;
  }
}

/** Which directory call failed: the passwd entry, the directory's group list, or the names of gids. */
export type IdentityLookup = 'userByUid' | 'groupsOf' | 'groupsByGid';

/**
 * A user or group lookup failed or timed out, so who the peer is is unknown. Not "no such entry": that is
 * an answer (a stranger). With lookupFailure "reject" (the default) resolution fails with this error.
 */
export class IdentityLookupError extends defineError(
  'PEERAUTH_IDENTITY_LOOKUP_FAILED',
  (lookup: IdentityLookup, subject: string, reason: string, timedOut: boolean, _options?: ErrorOptions) =>
    `${lookup} for ${subject} ${timedOut ? 'timed out' : 'failed'} (${reason}): the peer's identity is unknown`,
  IdentityError,
  (_lookup, _subject, _reason, _timedOut, options) => options,
) {
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
    super(lookup, subject, reason, timedOut, options);
    this.lookup = lookup;
    this.subject = subject;
    this.reason = reason;
    this.timedOut = timedOut;
  }
}

export class InvalidSpiffeIdError extends defineError(
  'PEERAUTH_INVALID_SPIFFE_ID',
  (value: string, reason: string) => `invalid SPIFFE ID ${JSON.stringify(value)}: ${reason}`,
  IdentityError,
) {
  readonly value: string;
  readonly reason: string;

  constructor(value: string, reason: string) {
    super(value, reason);
    this.value = value;
    this.reason = reason;
  }
}

export class InvalidBundleError extends defineError(
  'PEERAUTH_INVALID_BUNDLE',
  (trustDomain: string, reason: string, _options?: ErrorOptions) =>
    `X.509 bundle for trust domain ${JSON.stringify(trustDomain)}: ${reason}`,
  IdentityError,
  (_trustDomain, _reason, options) => options,
) {
  readonly trustDomain: string;

  constructor(trustDomain: string, reason: string, options?: ErrorOptions) {
    super(trustDomain, reason, options);
    this.trustDomain = trustDomain;
  }
}

/**
 * A certificate this package cannot read: its DER (the extensions the SVID rules read) or its subjectAltName
 * as OpenSSL prints it (`uriSans`). The SVID rules report it as PEERAUTH_SVID_MALFORMED, with this as the
 * cause; `uriSans` throws it as it is. `detail` says what did not parse.
 */
export class MalformedCertificateError extends defineError(
  'PEERAUTH_CERTIFICATE_MALFORMED',
  (detail: string) => `malformed certificate: ${detail}`,
  IdentityError,
) {
  readonly detail: string;

  constructor(detail: string) {
    super(detail);
    this.detail = detail;
  }
}

/** The rule of the X.509-SVID rules that refused a chain (the README lists when each applies). */
export type SvidErrorCode =
  | 'PEERAUTH_SVID_EMPTY_CHAIN'
  | 'PEERAUTH_SVID_MALFORMED'
  | 'PEERAUTH_SVID_NO_URI_SAN'
  | 'PEERAUTH_SVID_MULTIPLE_URI_SANS'
  | 'PEERAUTH_SVID_NOT_SPIFFE_ID'
  | 'PEERAUTH_SVID_NO_PATH'
  | 'PEERAUTH_SVID_LEAF_IS_CA'
  | 'PEERAUTH_SVID_LEAF_KEY_USAGE'
  | 'PEERAUTH_SVID_NOT_YET_VALID'
  | 'PEERAUTH_SVID_EXPIRED'
  | 'PEERAUTH_SVID_UNTRUSTED_DOMAIN'
  | 'PEERAUTH_SVID_INTERMEDIATE_NOT_CA'
  | 'PEERAUTH_SVID_CHAIN_UNVERIFIED'
  | 'PEERAUTH_SVID_PATH_INVALID';

/** A peer certificate chain was refused as an X.509-SVID; `code` names the rule that failed. */
export class SvidVerificationError extends IdentityError {
  declare readonly code: SvidErrorCode;
  /** The leaf's SPIFFE ID when it was read before the refusal. */
  readonly spiffeId: string | undefined;

  constructor(code: SvidErrorCode, message: string, spiffeId?: string, options?: ErrorOptions) {
    super(code, `X.509-SVID refused: ${message}`, options);
    this.spiffeId = spiffeId;
  }
}
