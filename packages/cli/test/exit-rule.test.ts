// The CLI's one rule from a failure to its printed line and exit code (exit-rule.ts), with real failures: a
// system call's own error, a TypeError from reading a property of undefined, commander's errors.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidModeError } from '@peerauth/server';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, EXIT_USAGE } from '../src/exit-codes.js';
import { exitCodeFor, failureText } from '../src/exit-rule.js';
import { tempDir } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('paexit-');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('a failure without a peerauth code gets one, and keeps what it said', () => {
  it('a system call: PEERAUTH_SYSTEM_ERROR with the errno, the call and the path (exit 1)', () => {
    const missing = path.join(dir, 'no', 'such');
    const err = thrown(() => fs.mkdirSync(missing));
    expect(failureText(err)).toBe(
      `PEERAUTH_SYSTEM_ERROR: ENOENT: no such file or directory, mkdir '${missing}'`,
    );
    expect(exitCodeFor(err)).toBe(1);
  });

  it('a defect: PEERAUTH_INTERNAL_ERROR with its class and message (exit 1)', () => {
    const err = thrown(() => (JSON.parse('{}') as { a: { length: number } }).a.length);
    expect(failureText(err)).toMatch(
      /^PEERAUTH_INTERNAL_ERROR: TypeError: Cannot read properties of undefined \(reading 'length'\) \(unexpected; /,
    );
    expect(exitCodeFor(err)).toBe(1);
  });

  it('a peerauth error keeps its own code; a CliError without one prints PEERAUTH_CLI_ERROR', () => {
    const mode = new InvalidModeError('999', 'expected octal digits');
    expect(failureText(mode)).toBe(`PEERAUTH_INVALID_MODE: ${mode.message}`);
    expect(failureText(new CliError('something: x'))).toBe('PEERAUTH_CLI_ERROR: something: x');
  });
});

describe('exit codes', () => {
  it('commander: 0 for help and version, 2 for what it cannot read; a usage CliError 2; the rest 1', () => {
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', ''))).toBe(0);
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', ''))).toBe(2);
    expect(exitCodeFor(new CliError('--socket needs a path', EXIT_USAGE))).toBe(2);
    expect(exitCodeFor(new CliError('--mode: bad'))).toBe(1);
    expect(failureText(new CommanderError(1, 'commander.unknownOption', 'x'))).toBeNull();
  });
});
