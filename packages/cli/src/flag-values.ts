// Every flag's value parser, one per flag, wired into commander with `.argParser()` (index.ts, common.ts,
// connection-flags.ts, tls-options.ts): a flag is read the same way, and refused with the same error and
// exit code, under every command that takes it. Parsers run while commander reads the command line, before
// any command starts, so a bad value never leaves a socket or a directory behind.
//
// The exit code follows the README's table (exit-rule.ts applies it): a value the flag reads but cannot
// use (a mode, a number out of range, an upstream URL) is a validation error, exit 1; a value not in the
// form the flag takes (HOST:PORT, TRUST_DOMAIN=FILE, an empty path) is a usage error, exit 2, like an
// unknown option.
import os from 'node:os';
import { PeerAuthTypeError } from '@peerauth/core-native';
import { parseMode } from '@peerauth/server';
import { WorkersError } from './errors.js';
import { CliError, EXIT_ERROR, EXIT_USAGE } from './exit-codes.js';

/**
 * A flag's value refused: printed with `PEERAUTH_INVALID_ARGUMENT` (or the cause's own code, such as
 * `PEERAUTH_INVALID_MODE`) so scripts can match it whichever command took the flag.
 */
export function invalidFlagValue(message: string, exitCode: number, cause?: unknown): CliError {
  return new CliError(message, exitCode, cause ?? new PeerAuthTypeError(message));
}

/** `--mode 0660`: the socket file's permission bits; the server's own parser, its PEERAUTH_INVALID_MODE kept. */
export function modeValue(value: string): number {
  try {
    return parseMode(value);
  } catch (err) {
    throw invalidFlagValue(`--mode: ${(err as Error).message}`, EXIT_ERROR, err);
  }
}

/** A whole number >= `min` for `flag` (counts, milliseconds): digits only, no sign, exponent or blank. */
export function wholeNumber(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
      throw invalidFlagValue(`${flag} must be a whole number >= ${min}, got "${value}"`, EXIT_ERROR);
    return n;
  };
}

/** `--workers N|auto`: a whole number >= 1, or one per CPU (os.availableParallelism()). */
export function workersValue(value: string): number {
  if (value === 'auto') return os.availableParallelism();
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value)) && Number(value) >= 1) return Number(value);
  const message = `--workers must be a whole number >= 1 or "auto", got "${value}"`;
  throw invalidFlagValue(message, EXIT_ERROR, new WorkersError('PEERAUTH_WORKERS_INVALID', message));
}

/** `--socket PATH`: an empty path would resolve to the current directory, not to a silent default. */
export function socketValue(value: string): string {
  if (value.trim() === '')
    throw invalidFlagValue(
      '--socket needs a path (an empty one would mean the current directory)',
      EXIT_USAGE,
    );
  return value;
}

/** `--workload-api SOCKET`: the agent's socket path, never empty. */
export function agentSocketValue(value: string): string {
  if (value.trim() === '') throw invalidFlagValue('--workload-api needs the agent socket path', EXIT_USAGE);
  return value;
}

/** `--allow-roles a,b`: the roles, trimmed; whether the config knows them is checked once it is loaded. */
export function rolesValue(value: string): string[] {
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (roles.length === 0) throw invalidFlagValue('--allow-roles needs at least one role', EXIT_ERROR);
  return roles;
}

/** `HOST:PORT`, `[v6]:PORT`; port 0 picks a free one (the start line prints it). */
export function listenValue(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw invalidFlagValue(
      `--tls-listen must be HOST:PORT (e.g. 0.0.0.0:8443 or [::]:8443), got "${value}"`,
      EXIT_USAGE,
    );
  return { host: (m[1] ?? m[2])!, port };
}

export interface BundleFlag {
  trustDomain: string;
  file: string;
}

/** `--bundle TRUST_DOMAIN=FILE`, repeatable: each value parsed, in the order given. */
export function bundleValue(value: string, previous: BundleFlag[] = []): BundleFlag[] {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1)
    throw invalidFlagValue(`--bundle must be TRUST_DOMAIN=FILE, got "${value}"`, EXIT_USAGE);
  return [...previous, { trustDomain: value.slice(0, eq), file: value.slice(eq + 1) }];
}

/** A repeatable flag whose values are kept as given (`--trust-domain`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A parser whose own module throws CliError (upstream.ts, upgrade-protocols.ts) as a flag parser: the same
 * message and exit code, with the flag errors' code.
 */
export function flagParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof CliError) throw invalidFlagValue(err.message, err.exitCode);
      throw err;
    }
  };
}
