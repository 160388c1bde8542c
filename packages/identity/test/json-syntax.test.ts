// The scanner that positions JSON errors must agree with JSON.parse on what is valid, or a config error
// would point at the wrong place (or nowhere).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findJsonSyntaxError, lineAndColumn } from '../src/json-syntax.js';

describe('findJsonSyntaxError', () => {
  it.each([
    '{}',
    '[]',
    ' \t\r\n{ "a" : [ 1 , -0.5e+10 , 2E-3, 0 , true , false , null , "x" ] , "b" : { } } \n',
    '"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00"',
    '"\uD83D\uDE00 \uD800 \u007F"',
    '-0',
    '12345678901234567890',
    'null',
  ])('finds nothing wrong in %j', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findJsonSyntaxError(text)).toBeUndefined();
  });

  it.each([
    ['', 0, 'empty document (no JSON value)'],
    [' \n\t', 3, 'empty document (no JSON value)'],
    ['[1,]', 3, 'trailing comma'],
    ['{"a": 1 ,\n}', 10, 'trailing comma'],
    ['{"a" 1}', 5, "expected ':' after property name"],
    ['{"a"', 4, 'unexpected end of input'],
    ['[1, 2', 5, 'unexpected end of input'],
    ['{"a": tru', 9, 'unexpected end of input'],
    ['[-', 2, 'unexpected end of input'],
    ['{"a": "xyz', 6, 'unterminated string'],
    ['["ab\\', 1, 'unterminated string'],
    ['["ab\ncd"]', 4, 'unterminated string (line break in string)'],
    ['["a\u0001"]', 3, 'control character in string (escape it)'],
    ['["\\x"]', 2, 'invalid escape in string'],
    ['["\\u12G4"]', 2, 'invalid \\u escape (expected 4 hex digits)'],
    ['"\\u12"', 1, 'invalid \\u escape (expected 4 hex digits)'],
    ['[01]', 2, 'invalid number (leading zero)'],
    ['-x', 1, 'invalid number (expected a digit)'],
    ['[1.]', 3, 'invalid number (expected a digit after the decimal point)'],
    ['[1e+]', 4, 'invalid number (expected a digit in the exponent)'],
    ['[.5]', 1, 'expected a value'],
    ['[,1]', 1, 'expected a value'],
    ["{'a': 1}", 1, 'expected a property name in double quotes'],
    ['{a: 1}', 1, 'expected a property name in double quotes'],
    ['{"a": 1, 2}', 9, 'expected a property name in double quotes'],
    ['[True]', 1, 'expected a value'],
    ['[nul1]', 1, 'invalid literal (expected true, false or null)'],
    ['[1 2]', 3, "expected ',' or ']'"],
    ['{"a": 1 "b": 2}', 8, "expected ',' or '}'"],
    ['[1}', 2, "expected ',' or ']'"],
    ['{} {}', 3, 'unexpected content after the JSON value'],
    ['\uFEFF{}', 0, 'expected a value'],
    ['{"a": 1 // why\n}', 8, 'comments are not allowed in JSON'],
    ['/* header */ {}', 0, 'comments are not allowed in JSON'],
  ])('%j: offset %i, %s', (text, offset, message) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(findJsonSyntaxError(text)).toEqual({ offset, message });
  });

  it('scans 100k levels of nesting without overflowing the stack', () => {
    const deep = '['.repeat(100_000);
    expect(findJsonSyntaxError(deep)).toEqual({ offset: deep.length, message: 'unexpected end of input' });
    expect(findJsonSyntaxError(`${deep}${']'.repeat(100_000)}`)).toBeUndefined();
    const objects = '{"a":'.repeat(100_000);
    expect(findJsonSyntaxError(`${objects}1${'}'.repeat(100_000)}x`)).toEqual({
      offset: objects.length + 1 + 100_000,
      message: 'unexpected content after the JSON value',
    });
  });
});

describe('lineAndColumn', () => {
  it('is 1-based, counts lines at \\n and columns in UTF-16 code units', () => {
    expect(lineAndColumn('abc', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('\nabc', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('\nabc', 1)).toEqual({ line: 2, column: 1 });
    expect(lineAndColumn('a\r\nbc', 4)).toEqual({ line: 2, column: 2 });
    expect(lineAndColumn('"\uD83D\uDE00"x', 4)).toEqual({ line: 1, column: 5 });
    expect(lineAndColumn('{\n', 2)).toEqual({ line: 2, column: 1 });
  });
});

// Characters that matter to the grammar, plus a few that never belong outside a string.
const CORRUPTIONS = [...'{}[],:"\\ \t\n0123456789-+.eEtrufalsn/x\'', '\u0000', '\u00e9', '\uFEFF'];

const validJson = fc
  .tuple(fc.jsonValue(), fc.constantFrom(undefined, 2, '\t'))
  .map(([value, indent]) => JSON.stringify(value, null, indent));

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('findJsonSyntaxError agrees with JSON.parse', () => {
  it('on valid JSON', () => {
    fc.assert(
      fc.property(validJson, (text) => {
        expect(findJsonSyntaxError(text)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('on valid JSON with one character replaced, inserted or deleted', () => {
    const corrupted = validJson.chain((text) =>
      fc.record({
        text: fc.constant(text),
        at: fc.nat({ max: text.length }),
        edit: fc.constantFrom('replace', 'insert', 'delete'),
        char: fc.constantFrom(...CORRUPTIONS),
      }),
    );
    fc.assert(
      fc.property(corrupted, ({ text, at, edit, char }) => {
        const skip = edit === 'insert' ? 0 : 1;
        const bad = text.slice(0, at) + (edit === 'delete' ? '' : char) + text.slice(at + skip);
        const found = findJsonSyntaxError(bad);
        if (parses(bad)) {
          expect(found).toBeUndefined();
        } else {
          expect(found).toBeDefined();
          expect(found!.offset).toBeLessThanOrEqual(bad.length);
          // The prefix before the edit is valid, so only the start of a string, a literal or an escape
          // sequence that the edit broke is reported earlier.
          const pointsAtTokenStart = /^(unterminated string|invalid literal|invalid (\\u )?escape)/.test(
            found!.message,
          );
          if (!pointsAtTokenStart) expect(found!.offset).toBeGreaterThanOrEqual(at);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
