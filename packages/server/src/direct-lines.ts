// The direct audit path: the server writes its audit events to a logger made by createJsonLogger as whole
// lines, the same line pino would write, without pino's generic per-key loop (which cost a fifth of the
// connection rate with the audit trail on). It needs pino's bindings string, which pino keeps under one of
// its exported symbols; this file is the only one that reads it.
import { pino } from 'pino';

/** Where a logger made by createJsonLogger takes whole lines; see directLines(). */
export interface DirectLines {
  /**
   * What pino writes after `"time":N` for this logger now: its bindings, starting with a comma (or null if
   * pino no longer keeps them as a string; then the line goes through pino).
   */
  bindings(): string | null;
  /** A whole line; `urgent` (warn and above) goes out at once, as pino's would. */
  write(line: string, urgent: boolean): void;
}

const direct = new WeakMap<object, DirectLines>();

/** Makes `write` (the logger's own line buffer) the direct path of `logger`. */
export function attachDirectLines(logger: pino.Logger, write: DirectLines['write']): void {
  const fields = logger as unknown as Record<symbol, unknown>;
  direct.set(logger, {
    // pino's own bindings string (`,"name":"peerauth","pid":N`), read at every line: setBindings() changes it.
    bindings: () => {
      const bindings = fields[pino.symbols.chindingsSym];
      return typeof bindings === 'string' ? bindings : null;
    },
    write,
  });
}

/**
 * The line sink of a logger made by createJsonLogger, or undefined for any other logger (an application's
 * own pino, a child, a custom object), whose serializers, hooks and formatters only pino itself applies.
 * The level check stays the caller's (isLevelEnabled), so a changed `logger.level` still holds.
 */
export function directLines(logger: object): DirectLines | undefined {
  return direct.get(logger);
}
