import type { ParsedIdentityConfig } from '@peerauth/identity';
import { IdentityConfigError, loadIdentityConfig } from '@peerauth/identity';
import type { LogLevel, TlsListenOptions } from '@peerauth/server';
import { parseMode } from '@peerauth/server';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  type ConnectionDefaults,
  type ConnectionFlags,
  type ConnectionSettings,
  connectionSettings,
} from './connection-flags.js';
import { requireCredentials } from './credentials-check.js';
import { defaultIdentityConfig } from './default-config.js';
import { CliError, EXIT_ERROR, EXIT_USAGE } from './exit-codes.js';
import { type LogFormat, parseLogFormat, parseLogLevel } from './logger.js';
import { type TlsFlags, tlsSettings } from './tls-options.js';

export interface CommonOptions extends TlsFlags, ConnectionFlags {
  socket?: string;
  mode?: string;
  config?: string;
  allowRoles?: string;
  logFormat?: string;
  drainTimeout?: string;
}

export interface ServerSettings {
  /** Undefined: the server's default path, whose directory (0700) the server creates. */
  socket: string | undefined;
  mode: number;
  /** --mode was given: the server then warns when a directory on the path keeps out whom it admits. */
  modeGiven: boolean;
  config: ParsedIdentityConfig;
  allowRoles: string[] | undefined;
  logFormat: LogFormat;
  logLevel: LogLevel;
  drainTimeoutMs: number;
  /** serve and proxy with --tls-listen: the mutual-TLS listener. */
  tls: TlsListenOptions | undefined;
  /** Per-uid limit, total, reserved slots and idle timeout (undefined: none). */
  connections: ConnectionSettings;
}

/** serve's: one descriptor per connection, and an HTTP client always speaks first. */
const SERVE_DEFAULTS: ConnectionDefaults = { fdsPerConnection: 1, idleTimeoutMs: 10_000 };

/** The flags every serving command (serve, proxy, exec) shares. */
export function addServerOptions(cmd: Command): Command {
  return cmd
    .option(
      '--socket <path>',
      'socket path (default: $XDG_RUNTIME_DIR/peerauth/peerauth.sock or /tmp/peerauth-<uid>/peerauth.sock)',
    )
    .option('--mode <octal>', 'permission bits of the socket file (default: 0660)')
    .option('--config <file>', 'identity config JSON (default: you are "owner", everyone else "public")')
    .option('--allow-roles <roles>', 'comma-separated roles admitted (default: every role)')
    .addOption(
      new Option('--log-format <format>', 'log format (default: pretty on a TTY, else json)').choices([
        'pretty',
        'json',
      ]),
    )
    .option('--drain-timeout <ms>', 'on SIGINT/SIGTERM, how long open requests may finish', '5000');
}

export async function loadConfig(file: string | undefined): Promise<ParsedIdentityConfig> {
  if (file === undefined) return defaultIdentityConfig();
  try {
    return await loadIdentityConfig(file);
  } catch (err) {
    if (err instanceof IdentityConfigError) throw new CliError(err.message, EXIT_ERROR, err);
    throw err;
  }
}

function parseDrainTimeout(value: string | undefined): number {
  const ms = Number(value ?? '5000');
  if (!Number.isInteger(ms) || ms < 0)
    throw new CliError(`--drain-timeout must be a whole number of milliseconds, got "${value}"`);
  return ms;
}

function parseRoles(value: string | undefined, config: ParsedIdentityConfig): string[] | undefined {
  if (value === undefined) return undefined;
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (roles.length === 0) throw new CliError('--allow-roles needs at least one role');
  const known = new Set([
    ...(config.roles ?? []),
    config.fallbackRole,
    ...config.people.map((p) => p.role),
    ...Object.values(config.groupRoles),
  ]);
  const unknown = roles.filter((r) => !known.has(r));
  if (unknown.length)
    throw new CliError(`--allow-roles names roles the config does not know: ${unknown.join(', ')}`);
  return roles;
}

/** `--socket ""` would resolve to the current directory: a usage error, not a silent default. */
export function checkSocketOption(socket: string | undefined): void {
  if (socket !== undefined && socket.trim() === '')
    throw new CliError('--socket needs a path (an empty one would mean the current directory)', EXIT_USAGE);
}

export async function serverSettings(
  opts: CommonOptions,
  defaults: ConnectionDefaults = SERVE_DEFAULTS,
): Promise<ServerSettings> {
  checkSocketOption(opts.socket);
  let mode: number;
  try {
    mode = parseMode(opts.mode ?? '0660');
  } catch (err) {
    throw new CliError(`--mode: ${(err as Error).message}`);
  }
  const { tls, config } = tlsSettings(opts, await loadConfig(opts.config));
  requireCredentials();
  return {
    socket: opts.socket,
    mode,
    modeGiven: opts.mode !== undefined,
    config,
    allowRoles: parseRoles(opts.allowRoles, config),
    logFormat: parseLogFormat(opts.logFormat),
    logLevel: parseLogLevel(process.env.PEERAUTH_LOG_LEVEL),
    drainTimeoutMs: parseDrainTimeout(opts.drainTimeout),
    tls,
    connections: connectionSettings(opts, defaults),
  };
}
