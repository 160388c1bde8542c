// Names end up where a control character does harm: environment variables (NUL cannot be passed at all),
// HTTP headers (CR/LF split them), log lines and terminals (newlines forge lines, ESC drives the terminal).

export interface ControlCharacter {
  /** UTF-16 index of the first one. */
  index: number;
  /** `U+0000` .. `U+001F`, `U+007F`. */
  codePoint: string;
}

/**
 * The first C0 control character (U+0000..U+001F) or DEL (U+007F) in `value`, or null when it has none.
 * Everything else, other scripts included, is allowed: these are people's names.
 */
export function findControlCharacter(value: string): ControlCharacter | null {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) {
      return { index, codePoint: `U+${code.toString(16).toUpperCase().padStart(4, '0')}` };
    }
  }
  return null;
}

/** A string as a JSON literal with DEL escaped too (JSON.stringify leaves it raw): safe in a log line or message. */
export function quoteValue(value: string): string {
  return JSON.stringify(value).replaceAll('\u007f', '\\u007f');
}
