// The serving commands' limits on what one local user may hold, on by default: a per-uid connection limit,
// a total kept under the descriptor limit with slots reserved for root and the server's own user, and an
// idle timeout for connections that send nothing.
import fs from 'node:fs';
import type { Command } from 'commander';
import { EXIT_USAGE } from './exit-codes.js';
import { invalidFlagValue, wholeNumber } from './flag-values.js';

/** As commander gives them: each value already read by its parser (flag-values.ts). */
export interface ConnectionFlags {
  maxConnectionsPerUid?: number;
  maxConnections?: number;
  reservedConnections?: number;
  idleTimeout?: number;
}

/** What each command puts on top of a connection: its descriptors, and whether silence is normal. */
export interface ConnectionDefaults {
  /** Descriptors one admitted connection uses (the socket; an upstream; a child's pipes). */
  fdsPerConnection: number;
  /** --idle-timeout when not given; 0 for none. */
  idleTimeoutMs: number;
}

export interface ConnectionSettings {
  maxConnectionsPerUid: number | undefined;
  maxConnections: number | undefined;
  reservedConnections: number | undefined;
  idleTimeoutMs: number | undefined;
}

export const DEFAULT_MAX_CONNECTIONS_PER_UID = 64;
export const DEFAULT_RESERVED_CONNECTIONS = 3;
/** Descriptors kept aside from the total for the process itself: logs, config, the pool, the listeners. */
const FDS_KEPT = 64;

/** `idleDefault`: the flag's default as help shows it, or a text for a default the command decides itself. */
export function addConnectionOptions(cmd: Command, idleDefault: string | { describe: string }): Command {
  return cmd
    .option(
      '--max-connections-per-uid <n>',
      'at most this many connections from one uid at once, root and your own uid exempt; 0 for no limit',
      wholeNumber('--max-connections-per-uid', 0),
      DEFAULT_MAX_CONNECTIONS_PER_UID,
    )
    .option(
      '--max-connections <n>',
      'at most this many admitted connections (default: from the open-files limit); 0 for no limit',
      wholeNumber('--max-connections', 0),
    )
    .option(
      '--reserved-connections <n>',
      `of --max-connections, slots only root and your own uid may take (default: ${DEFAULT_RESERVED_CONNECTIONS})`,
      wholeNumber('--reserved-connections', 0),
    )
    .option(
      '--idle-timeout <ms>',
      `close a connection that sent nothing for this long; 0 for never${typeof idleDefault === 'string' ? '' : ` (default: ${idleDefault.describe})`}`,
      wholeNumber('--idle-timeout', 0),
      typeof idleDefault === 'string' ? Number(idleDefault) : undefined,
    );
}

/** The soft open-files limit (Linux: /proc/self/limits), or null where it cannot be read. */
export function openFilesLimit(): number | null {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

export function connectionSettings(flags: ConnectionFlags, defaults: ConnectionDefaults): ConnectionSettings {
  const perUid = flags.maxConnectionsPerUid ?? DEFAULT_MAX_CONNECTIONS_PER_UID;
  const idle = flags.idleTimeout ?? defaults.idleTimeoutMs;
  let max: number;
  if (flags.maxConnections !== undefined) max = flags.maxConnections;
  else {
    const limit = openFilesLimit();
    max = limit === null ? 0 : Math.max(1, Math.floor((limit - FDS_KEPT) / defaults.fdsPerConnection));
  }
  const reservedGiven = flags.reservedConnections !== undefined;
  let reserved = flags.reservedConnections ?? DEFAULT_RESERVED_CONNECTIONS;
  if (max === 0) {
    if (reservedGiven && reserved > 0)
      throw invalidFlagValue(
        '--reserved-connections needs a limit on connections (--max-connections)',
        EXIT_USAGE,
      );
    reserved = 0;
  } else if (reserved >= max) {
    if (reservedGiven)
      throw invalidFlagValue(
        `--reserved-connections (${reserved}) must be less than --max-connections (${max})`,
        EXIT_USAGE,
      );
    // The default never takes every slot of a small total.
    reserved = Math.floor(max / 2);
  }
  return {
    maxConnectionsPerUid: perUid === 0 ? undefined : perUid,
    maxConnections: max === 0 ? undefined : max,
    reservedConnections: reserved === 0 ? undefined : reserved,
    idleTimeoutMs: idle === 0 ? undefined : idle,
  };
}
