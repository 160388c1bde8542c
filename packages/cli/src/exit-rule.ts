// How a failure ends the CLI: the line it prints and the exit code, decided here for every failure,
// whichever command or flag parser raised it (README, Exit codes).
import { formatError } from '@peerauth/core-native';
import { CommanderError } from 'commander';
import { CliError, EXIT_ERROR, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { withCode } from './unexpected-error.js';

export { USAGE_ERROR } from './errors.js';

/**
 * The one rule for exit codes (README, Exit codes): 0 for help and version; 2 for a command line commander
 * cannot read (unknown command or option, missing argument or value) and for a CliError a flag's parser or
 * a flag check raised as a usage error; 1 for everything else, whoever threw it.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      return EXIT_OK;
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (err instanceof CliError) return err.exitCode === EXIT_USAGE ? EXIT_USAGE : EXIT_ERROR;
  return EXIT_ERROR;
}

/**
 * The line a failure prints: `CODE: message` for every failure, its code the peerauth error's own, or one
 * naming the failure class for an error no peerauth check named (unexpected-error.ts); a CliError its own
 * (errors.ts). Commander has printed its own errors already.
 */
export function failureText(err: unknown): string | null {
  if (err instanceof CommanderError) return null;
  return formatError(withCode(err));
}
