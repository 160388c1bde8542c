import { isPeerAuthError, PeerAuthError } from '@peerauth/core-native';

/** Documented exit codes: scripts and service managers depend on these values. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/**
 * An error whose message is meant for the user as it is (no stack), with the exit code to use. Made from a
 * peerauth error (`cause`), it keeps that error's code, which the CLI prints; its own is PEERAUTH_CLI_ERROR.
 */
export class CliError extends PeerAuthError {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
    cause?: unknown,
  ) {
    super(
      isPeerAuthError(cause) ? cause.code : 'PEERAUTH_CLI_ERROR',
      message,
      cause === undefined ? undefined : { cause },
    );
  }
}
