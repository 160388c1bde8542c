import { InvalidModeError } from './errors.js';

export const DEFAULT_MODE = 0o660;

/**
 * Accepts a number (0o660) or an octal string ("0660", "660", "0o660"). Decimal-looking strings are read
 * as octal on purpose: that is how chmod(1) and every config file spell modes.
 */
export function parseMode(mode: number | string): number {
  if (typeof mode === 'number') {
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
      throw new InvalidModeError(mode, 'expected an integer between 0 and 0o777 (permission bits only)');
    }
    return mode;
  }
  if (typeof mode === 'string') {
    const digits = mode.trim().replace(/^0o/i, '');
    if (!/^[0-7]{1,4}$/.test(digits)) {
      throw new InvalidModeError(mode, 'expected octal digits such as "0660" or "660"');
    }
    const value = Number.parseInt(digits, 8);
    if (value > 0o777) {
      throw new InvalidModeError(
        mode,
        'setuid, setgid and sticky bits are not valid for a socket (max 0777)',
      );
    }
    return value;
  }
  throw new InvalidModeError(mode, `expected a number or an octal string, got ${typeof mode}`);
}
