// Loggers to hand to a server or resolver in tests: one that records, one that drops everything.

export interface LogRecord {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A pino-compatible logger that records what it is given, for assertions. */
export function recordingLogger(): {
  records: LogRecord[];
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
} {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: object, msg?: string) => {
    records.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { records, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

export const silentLogger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  isLevelEnabled: () => false,
};
