// One error model: every error of this package has a PEERAUTH_ code (a system errno excepted), argument
// errors stay TypeError/RangeError, and formatError is the one `CODE: message` text.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createCredentialPool,
  defineError,
  formatError,
  getPeerCredentials,
  InvalidArgumentError,
  isPeerAuthError,
  PeerAuthError,
  PeerAuthRangeError,
  PeerAuthTypeError,
  PeerCredentialsError,
  PoolClosedError,
} from '../src/index.js';

describe('peerauth errors', () => {
  it('argument errors keep their built-in class and carry a code', () => {
    expect(() => createCredentialPool({ threads: 0 })).toThrow(TypeError);
    try {
      createCredentialPool({ threads: 0 });
    } catch (err) {
      expect(err).toBeInstanceOf(PeerAuthTypeError);
      expect(isPeerAuthError(err)).toBe(true);
      expect((err as PeerAuthTypeError).code).toBe('PEERAUTH_INVALID_ARGUMENT');
      expect(formatError(err)).toBe('PEERAUTH_INVALID_ARGUMENT: threads must be a positive integer, got 0');
    }
    const range = new PeerAuthRangeError('too big');
    expect(range).toBeInstanceOf(RangeError);
    expect(range.code).toBe('PEERAUTH_ARGUMENT_OUT_OF_RANGE');
    expect(isPeerAuthError(range)).toBe(true);
  });

  it('package errors have PEERAUTH_ codes; a socket errno stays the errno', async () => {
    const closed = new PoolClosedError('lookupUser');
    expect(closed).toBeInstanceOf(PeerAuthError);
    expect(closed.code).toBe('PEERAUTH_POOL_CLOSED');
    expect(closed.name).toBe('PoolClosedError');
    const socket = new net.Socket();
    let thrown: unknown;
    try {
      getPeerCredentials(socket);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PeerCredentialsError);
    expect(isPeerAuthError(thrown)).toBe(true);
    expect((thrown as PeerCredentialsError).code).toMatch(/^E[A-Z]+$/);
  });

  it('isPeerAuthError is false for other errors, even with a code', () => {
    const foreign = Object.assign(new Error('x'), { code: 'PEERAUTH_POOL_CLOSED' });
    expect(isPeerAuthError(foreign)).toBe(false);
    expect(isPeerAuthError({ code: 'PEERAUTH_X', message: 'x' })).toBe(false);
  });

  it('formatError writes CODE: message, with a fallback code for anything else', () => {
    expect(formatError(new PoolClosedError('close'))).toBe(
      'PEERAUTH_POOL_CLOSED: close called on a credential pool that is closed',
    );
    expect(formatError(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe('ENOENT: gone');
    expect(formatError(new Error('plain'))).toBe('ERROR: plain');
    expect(formatError('a string')).toBe('ERROR: a string');
    expect(formatError(undefined, 'UNKNOWN')).toBe('UNKNOWN: undefined');
  });

  it('defineError makes a class for one code: its message, its cause, its base, its name', () => {
    class FileGoneError extends defineError(
      'PEERAUTH_TEST_FILE_GONE',
      (file: string, _options?: ErrorOptions) => `${file} is gone`,
      PeerAuthError,
      (_file, options) => options,
    ) {}
    const cause = new Error('ENOENT');
    const err = new FileGoneError('/x', { cause });
    expect(err).toBeInstanceOf(PeerAuthError);
    expect(err.code).toBe('PEERAUTH_TEST_FILE_GONE');
    expect(err.name).toBe('FileGoneError');
    expect(err.cause).toBe(cause);
    expect(formatError(err)).toBe('PEERAUTH_TEST_FILE_GONE: /x is gone');
    expect(isPeerAuthError(err)).toBe(true);
    expect(Object.keys(err)).not.toContain('cause');
  });

  it('the pool throws the one invalid-argument error, out-of-range values as its RangeError form', () => {
    expect(PeerAuthTypeError).toBe(InvalidArgumentError);
    let timeoutError: unknown;
    try {
      createCredentialPool({ timeoutMs: 0 });
    } catch (err) {
      timeoutError = err;
    }
    expect(timeoutError).toBeInstanceOf(PeerAuthRangeError);
    expect(timeoutError).toBeInstanceOf(InvalidArgumentError);
    expect(formatError(timeoutError)).toBe('PEERAUTH_ARGUMENT_OUT_OF_RANGE: timeoutMs must be > 0, got 0');
    expect(() => createCredentialPool({ threads: 0 })).toThrow(InvalidArgumentError);
    expect(new PoolClosedError('close')).not.toBeInstanceOf(InvalidArgumentError);
    // A subclass is checked by its prototype as usual, not by the code.
    class OptionError extends InvalidArgumentError {}
    expect(new OptionError('x')).toBeInstanceOf(OptionError);
    expect(new InvalidArgumentError('x')).not.toBeInstanceOf(OptionError);
    expect(new PeerAuthRangeError('x', 'PEERAUTH_OTHER')).toBeInstanceOf(PeerAuthRangeError);
  });
});
