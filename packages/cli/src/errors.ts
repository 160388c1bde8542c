// This package's error table: every code it throws, once, with its message. The model they share (the
// marker, defineError) is @peerauth/core-native's; the exit codes they carry are exit-codes.ts.
import { defineError, isPeerAuthError, PeerAuthError } from '@peerauth/core-native';
import { quoteValue } from '@peerauth/identity';
import { EXIT_ERROR } from './exit-codes.js';

/**
 * An error whose message is meant for the user as it is (no stack), with the exit code to use. Made from a
 * peerauth error (`cause`), it keeps that error's code, which the CLI prints; otherwise the code given (one
 * of the classes below), or PEERAUTH_CLI_ERROR.
 */
export class CliError extends PeerAuthError {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
    cause?: unknown,
    code = 'PEERAUTH_CLI_ERROR',
  ) {
    super(isPeerAuthError(cause) ? cause.code : code, message, cause === undefined ? undefined : { cause });
  }
}

/** `whoami`: the server refused, or the socket did not answer as a `peerauth serve` socket does. */
export class WhoamiFailedError extends CliError {
  constructor(message: string) {
    super(message, EXIT_ERROR, undefined, 'PEERAUTH_WHOAMI_FAILED');
  }
}

/** `resolve USER`: the user database has no such user. */
export class NoSuchUserError extends CliError {
  constructor(message: string) {
    super(message, EXIT_ERROR, undefined, 'PEERAUTH_NO_SUCH_USER');
  }
}

/** `exec -- CMD`: the command is empty, not found in PATH, or not a file this user can run. */
export class ExecCommandError extends CliError {
  constructor(message: string) {
    super(message, EXIT_ERROR, undefined, 'PEERAUTH_EXEC_COMMAND_UNUSABLE');
  }
}

/** An identity value that no header can carry faithfully: the connection is refused instead. */
export class IdentityValueError extends defineError(
  'PEERAUTH_IDENTITY_VALUE_UNSENDABLE',
  (field: string) => `the caller's ${field} contains control characters and cannot be sent as a header`,
) {
  constructor(readonly field: string) {
    super(field);
  }
}

/**
 * An identity value that cannot go into a child's environment as it is: NUL cannot be passed at all, and a
 * newline lets whatever reads the environment line by line see a second variable. The config refuses
 * such names up front; this covers values that come with a connection (a username from the user database).
 */
export class UnexportableValueError extends defineError(
  'PEERAUTH_EXEC_UNEXPORTABLE_VALUE',
  // Quoted with every control character escaped: this message goes into the log.
  (variable: string, value: string, codePoint: string) =>
    `${variable} would hold a control character (${codePoint}): ${quoteValue(value)}`,
) {
  readonly variable: string;
  constructor(variable: string, value: string, codePoint: string) {
    super(variable, value, codePoint);
    this.variable = variable;
  }
}

/** A command line commander cannot read: unknown command or option, missing argument or value. */
export const USAGE_ERROR = 'PEERAUTH_USAGE';
/** A system call failed outside the checks that name their own: Node's message names the errno, call and path. */
export const SYSTEM_ERROR = 'PEERAUTH_SYSTEM_ERROR';
/** Anything else that reaches the top without a code: a defect in peerauth, reported with its class and message. */
export const INTERNAL_ERROR = 'PEERAUTH_INTERNAL_ERROR';

/** --workers: a value that is no count, a listener the workers cannot share, a worker that ended. */
export class WorkersError extends PeerAuthError {
  declare readonly code:
    | 'PEERAUTH_WORKERS_INVALID'
    | 'PEERAUTH_WORKERS_UNSUPPORTED'
    | 'PEERAUTH_WORKER_EXITED';
}
