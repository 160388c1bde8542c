import type { ParsedIdentityConfig } from '@peerauth/identity';
import { IdentityConfigError, loadIdentityConfig } from '@peerauth/identity';
import type { LogLevel, TlsListenOptions } from '@peerauth/server';
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
import { CliError, EXIT_ERROR } from './exit-codes.js';
import { invalidFlagValue, modeValue, rolesValue, socketValue, wholeNumber } from './flag-values.js';
import { type LogFormat, parseLogFormat, parseLogLevel } from './logger.js';
import { type TlsFlags, tlsSettings } from './tls-options.js';
import { parseWorkers } from './workers.js';

/** As commander gives them: each value already read by its parser (flag-values.ts). */
export interface CommonOptions extends TlsFlags, ConnectionFlags {
  socket?: string;
  mode?: number;
  config?: string;
  allowRoles?: string[];
  logFormat?: string;
  drainTimeout?: number;
  /** serve and proxy: --workers N|auto, as workersValue read it. */
  workers?: number;
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
  /** Processes serving the socket (--workers); 1 for none besides this one. */
  workers: number;
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
      socketValue,
    )
    .option('--mode <octal>', 'permission bits of the socket file (default: 0660)', modeValue)
    .option('--config <file>', 'identity config JSON (default: you are "owner", everyone else "public")')
    .option('--allow-roles <roles>', 'comma-separated roles admitted (default: every role)', rolesValue)
    .addOption(
      new Option('--log-format <format>', 'log format (default: pretty on a TTY, else json)').choices([
        'pretty',
        'json',
      ]),
    )
    .option(
      '--drain-timeout <ms>',
      'on SIGINT/SIGTERM, how long open requests may finish',
      wholeNumber('--drain-timeout', 0),
      5000,
    );
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

/** --allow-roles against the config: a role nobody can have would refuse everyone, silently. */
function knownRoles(roles: string[] | undefined, config: ParsedIdentityConfig): string[] | undefined {
  if (roles === undefined) return undefined;
  const known = new Set([
    ...(config.roles ?? []),
    config.fallbackRole,
    ...config.people.map((p) => p.role),
    ...Object.values(config.groupRoles),
  ]);
  const unknown = roles.filter((r) => !known.has(r));
  if (unknown.length)
    throw invalidFlagValue(
      `--allow-roles names roles the config does not know: ${unknown.join(', ')}`,
      EXIT_ERROR,
    );
  return roles;
}

export async function serverSettings(
  opts: CommonOptions,
  defaults: ConnectionDefaults = SERVE_DEFAULTS,
): Promise<ServerSettings> {
  const { tls, config } = tlsSettings(opts, await loadConfig(opts.config));
  requireCredentials();
  return {
    socket: opts.socket,
    mode: opts.mode ?? 0o660,
    modeGiven: opts.mode !== undefined,
    config,
    allowRoles: knownRoles(opts.allowRoles, config),
    logFormat: parseLogFormat(opts.logFormat),
    logLevel: parseLogLevel(process.env.PEERAUTH_LOG_LEVEL),
    drainTimeoutMs: opts.drainTimeout ?? 5000,
    tls,
    connections: connectionSettings(opts, defaults),
    workers: parseWorkers(opts.workers, tls),
  };
}
