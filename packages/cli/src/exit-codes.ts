/** Documented exit codes: scripts and service managers depend on these values. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/** An error whose message is meant for the user as it is (no stack), with the exit code to use. */
export class CliError extends Error {
  readonly code = 'CLI_ERROR';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
