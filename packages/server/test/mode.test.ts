import { describe, expect, it } from 'vitest';
import { InvalidModeError } from '../src/errors.js';
import { parseMode } from '../src/mode.js';

describe('parseMode', () => {
  it('accepts numbers and octal strings with or without a leading 0 or 0o', () => {
    expect(parseMode(0o660)).toBe(0o660);
    expect(parseMode(0)).toBe(0);
    expect(parseMode(0o777)).toBe(0o777);
    expect(parseMode('0660')).toBe(0o660);
    expect(parseMode('660')).toBe(0o660);
    expect(parseMode('0o600')).toBe(0o600);
    expect(parseMode('7')).toBe(0o7);
  });

  it.each([
    [0o1000],
    [-1],
    [1.5],
    [Number.NaN],
    ['0888'],
    ['rw-rw----'],
    [''],
    ['01777'],
    ['0x1ff'],
    ['12345'],
  ])('rejects %s with InvalidModeError (code PEERAUTH_INVALID_MODE)', (mode) => {
    const attempt = () => parseMode(mode as number | string);
    expect(attempt).toThrow(InvalidModeError);
    try {
      attempt();
    } catch (err) {
      expect((err as InvalidModeError).code).toBe('PEERAUTH_INVALID_MODE');
      expect((err as Error).message).toContain(JSON.stringify(mode));
    }
  });

  it('rejects values that are not numbers or strings', () => {
    expect(() => parseMode(null as unknown as number)).toThrow(InvalidModeError);
  });
});
