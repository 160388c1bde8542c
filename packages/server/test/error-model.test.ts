// Errors of every package share one model: identity's and the server's errors are recognised by
// core-native's isPeerAuthError, and bad options keep their built-in class with a code.
import { formatError, isPeerAuthError, PeerAuthError } from '@peerauth/core-native';
import { createResolver, IdentityConfigError, InvalidUidError } from '@peerauth/identity';
import { createX509Source, WorkloadApiError } from '@peerauth/workload-api';
import { describe, expect, it } from 'vitest';
import { createCachingDirectory, InvalidModeError, PeerServerError, parseMode } from '../src/index.js';
import { countingDirectory } from './helpers.js';

describe('one error model across packages', () => {
  it('identity errors, which cannot extend PeerAuthError, are still peerauth errors', () => {
    expect(isPeerAuthError(new InvalidUidError(-1))).toBe(true);
    expect(() => createResolver({ people: 1 }, countingDirectory({}))).toThrow(IdentityConfigError);
    let timeoutError: unknown;
    try {
      createResolver({ people: [] }, countingDirectory({}), { timeoutMs: 0 });
    } catch (err) {
      timeoutError = err;
    }
    expect(timeoutError).toBeInstanceOf(RangeError);
    expect(isPeerAuthError(timeoutError)).toBe(true);
    expect((timeoutError as { code: string }).code).toBe('PEERAUTH_ARGUMENT_OUT_OF_RANGE');
  });

  it('workload-api errors, which cannot extend PeerAuthError either, are peerauth errors', () => {
    let endpointError: unknown;
    try {
      createX509Source({ endpoint: 'http://127.0.0.1:8081' });
    } catch (err) {
      endpointError = err;
    }
    expect(endpointError).toBeInstanceOf(WorkloadApiError);
    expect(isPeerAuthError(endpointError)).toBe(true);
    expect(formatError(endpointError)).toMatch(
      /^PEERAUTH_WORKLOAD_BAD_ENDPOINT: Workload API endpoint "http:/,
    );
  });

  it('server errors extend PeerAuthError; a bad cache option is a RangeError with a code', () => {
    let modeError: unknown;
    try {
      parseMode('0999');
    } catch (err) {
      modeError = err;
    }
    expect(modeError).toBeInstanceOf(InvalidModeError);
    expect(modeError).toBeInstanceOf(PeerServerError);
    expect(modeError).toBeInstanceOf(PeerAuthError);
    expect(formatError(modeError)).toMatch(/^PEERAUTH_INVALID_MODE: invalid socket mode "0999"/);

    let cacheError: unknown;
    try {
      createCachingDirectory(countingDirectory({}), { ttlMs: -1 });
    } catch (err) {
      cacheError = err;
    }
    expect(cacheError).toBeInstanceOf(RangeError);
    expect(cacheError).toMatchObject({ code: 'PEERAUTH_ARGUMENT_OUT_OF_RANGE' });
  });
});
