/** Documented exit codes: scripts and service managers depend on these values. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

// The error that carries one of these is in the package's error table; most modules import it from here.
export { CliError } from './errors.js';
