// One JSON scanner for two questions about a config file: where a text JSON.parse refused breaks RFC 8259
// (its own message names no position for some errors on some Node versions), and which keys of a text it
// accepted are repeated or `__proto__`. It validates and builds nothing. Nesting is tracked on an explicit
// stack rather than by recursion, so 100k `[` cannot overflow the call stack.

export interface JsonSyntaxError {
  /** Index in the text, in UTF-16 code units, of the first error. */
  offset: number;
  /** What is wrong there, e.g. "trailing comma". */
  message: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const SIMPLE_ESCAPES = '"\\/bfnrt';
const LITERALS = ['true', 'false', 'null'];

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    i++;
  }
}

function endOfInput(text: string): JsonSyntaxError {
  return { offset: text.length, message: 'unexpected end of input' };
}

function failure(text: string, offset: number, message: string): JsonSyntaxError {
  if (offset >= text.length) return endOfInput(text);
  // Comments are the likeliest unexpected token in a hand-written config: name them.
  if (text.startsWith('//', offset) || text.startsWith('/*', offset))
    return { offset, message: 'comments are not allowed in JSON' };
  return { offset, message };
}

/** The index just after the string opening at `start`, or why it is invalid. */
function scanString(text: string, start: number): number | JsonSyntaxError {
  let i = start + 1;
  for (;;) {
    if (i >= text.length) return { offset: start, message: 'unterminated string' };
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = text[i + 1];
      if (e === undefined) return { offset: start, message: 'unterminated string' };
      if (e === 'u') {
        for (let k = i + 2; k < i + 6; k++)
          if (!isHexDigit(text.charCodeAt(k)))
            return { offset: i, message: 'invalid \\u escape (expected 4 hex digits)' };
        i += 6;
      } else if (SIMPLE_ESCAPES.includes(e)) {
        i += 2;
      } else {
        return { offset: i, message: 'invalid escape in string' };
      }
    } else if (c < 0x20) {
      const message =
        c === 0x0a || c === 0x0d
          ? 'unterminated string (line break in string)'
          : 'control character in string (escape it)';
      return { offset: i, message };
    } else {
      i++;
    }
  }
}

function scanDigits(text: string, i: number, message: string): number | JsonSyntaxError {
  if (!isDigit(text.charCodeAt(i))) return failure(text, i, message);
  while (isDigit(text.charCodeAt(i))) i++;
  return i;
}

/** The index just after the number starting at `start` (a '-' or a digit), or why it is invalid. */
function scanNumber(text: string, start: number): number | JsonSyntaxError {
  let i = start;
  if (text.charCodeAt(i) === MINUS) i++;
  if (text[i] === '0') {
    i++;
    if (isDigit(text.charCodeAt(i))) return { offset: i, message: 'invalid number (leading zero)' };
  } else {
    const r = scanDigits(text, i, 'invalid number (expected a digit)');
    if (typeof r !== 'number') return r;
    i = r;
  }
  if (text.charCodeAt(i) === DOT) {
    const r = scanDigits(text, i + 1, 'invalid number (expected a digit after the decimal point)');
    if (typeof r !== 'number') return r;
    i = r;
  }
  if (text[i] === 'e' || text[i] === 'E') {
    i++;
    if (text[i] === '+' || text[i] === '-') i++;
    const r = scanDigits(text, i, 'invalid number (expected a digit in the exponent)');
    if (typeof r !== 'number') return r;
    i = r;
  }
  return i;
}

function scanLiteral(text: string, start: number): number | JsonSyntaxError {
  for (const word of LITERALS) if (text.startsWith(word, start)) return start + word.length;
  // A file cut short inside a literal ("tru") is a truncation, not a misspelling.
  const rest = text.length - start < 5 ? text.slice(start) : undefined;
  if (rest !== undefined && LITERALS.some((word) => word.startsWith(rest))) return endOfInput(text);
  return { offset: start, message: 'invalid literal (expected true, false or null)' };
}

/** The index just after the scalar starting at `i`, or why it is invalid. */
function scanScalar(text: string, i: number): number | JsonSyntaxError {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return scanString(text, i);
  if (c === MINUS || isDigit(c)) return scanNumber(text, i);
  if (c === 0x74 || c === 0x66 || c === 0x6e) return scanLiteral(text, i);
  return failure(text, i, 'expected a value');
}

/** One open container during a scan: its kind, and the key or index the scan is at inside it. */
interface Frame {
  kind: '[' | '{';
  at: string | number;
}

/**
 * Told of each property name as the scan meets it (`start`..`end` is its string literal, quotes included),
 * with the containers open around it, innermost last; returns the key as it reads, which the innermost
 * frame then holds as its `at`.
 */
type KeyVisitor = (start: number, end: number, stack: readonly Frame[]) => string;

/**
 * The one JSON scanner of the package: walks `text` by RFC 8259 and returns the first error, or undefined
 * when it is a single valid JSON value. `onKey` sees every property name of a valid prefix.
 */
function scanJson(text: string, onKey?: KeyVisitor): JsonSyntaxError | undefined {
  // Open containers, innermost last.
  const stack: Frame[] = [];
  let state: 'value' | 'key' | 'after' = 'value';
  let i = skipWhitespace(text, 0);
  if (i >= text.length) return { offset: i, message: 'empty document (no JSON value)' };
  for (;;) {
    i = skipWhitespace(text, i);
    if (state === 'value') {
      const c = text[i];
      if (c === '[' || c === '{') {
        const close = c === '[' ? ']' : '}';
        i = skipWhitespace(text, i + 1);
        if (text[i] === close) {
          i++;
          state = 'after';
        } else {
          stack.push({ kind: c, at: 0 });
          state = c === '[' ? 'value' : 'key';
        }
        continue;
      }
      const r = scanScalar(text, i);
      if (typeof r !== 'number') return r;
      i = r;
      state = 'after';
    } else if (state === 'key') {
      if (text.charCodeAt(i) !== QUOTE) return failure(text, i, 'expected a property name in double quotes');
      const r = scanString(text, i);
      if (typeof r !== 'number') return r;
      if (onKey) stack.at(-1)!.at = onKey(i, r, stack);
      i = skipWhitespace(text, r);
      if (text[i] !== ':') return failure(text, i, "expected ':' after property name");
      i++;
      state = 'value';
    } else {
      const inner = stack.at(-1);
      if (inner === undefined)
        return i < text.length ? failure(text, i, 'unexpected content after the JSON value') : undefined;
      const close = inner.kind === '[' ? ']' : '}';
      if (text[i] === close) {
        stack.pop();
        i++;
      } else if (text[i] === ',') {
        if (inner.kind === '[') inner.at = (inner.at as number) + 1;
        i = skipWhitespace(text, i + 1);
        if (text[i] === close) return { offset: i, message: 'trailing comma' };
        state = inner.kind === '[' ? 'value' : 'key';
      } else {
        return failure(text, i, `expected ',' or '${close}'`);
      }
    }
  }
}

/**
 * The first place where `text` is not a single JSON value by RFC 8259 (no comments, no trailing commas,
 * no empty document), or undefined when it is valid JSON. A byte order mark is an error: strip it first.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  return scanJson(text);
}

/** 1-based line and column of `offset`; columns count UTF-16 code units, lines end at '\n'. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lastBreak = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: before.length - lastBreak };
}

export interface RepeatedKey {
  /** Where the key is: the keys and array indices leading to it, then the key itself. */
  segments: (string | number)[];
  /** Index in the text of the key's opening quote. */
  offset: number;
  message: string;
}

/**
 * Keys JSON.parse would accept but a config must not have: a key repeated within one object (JSON.parse
 * keeps the last, so the file says two things), and `__proto__` (an own property that schema checks drop).
 * Only for a text JSON.parse has accepted; each key is decoded by JSON.parse itself, so "\u0061" is "a".
 */
export function findRepeatedKeys(text: string): RepeatedKey[] {
  const found: RepeatedKey[] = [];
  const keysOf = new WeakMap<Frame, Set<string>>();
  scanJson(text, (start, end, stack) => {
    const frame = stack.at(-1)!;
    const key = JSON.parse(text.slice(start, end)) as string;
    const segments = [...stack.slice(0, -1).map((f) => f.at), key];
    const { line, column } = lineAndColumn(text, start);
    const keys = keysOf.get(frame) ?? new Set<string>();
    keysOf.set(frame, keys);
    if (key === '__proto__')
      found.push({
        segments,
        offset: start,
        message: `"__proto__" is not allowed as a key (line ${line}, column ${column}): it would be dropped`,
      });
    else if (keys.has(key))
      found.push({
        segments,
        offset: start,
        message: `repeated key "${key}" (line ${line}, column ${column}): write each key once (JSON.parse would keep only the last)`,
      });
    keys.add(key);
    return key;
  });
  return found;
}
