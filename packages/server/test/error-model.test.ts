// Errors of every package share one model: identity's and the server's errors are recognised by
// core-native's isPeerAuthError, and bad options keep their built-in class with a code.
import {
  createCredentialPool,
  formatError,
  InvalidArgumentError,
  isPeerAuthError,
  PeerAuthError,
  PeerAuthRangeError,
  PeerAuthTypeError,
} from '@peerauth/core-native';
import { createResolver, IdentityConfigError, IdentityRangeError, InvalidUidError } from '@peerauth/identity';
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

  it('the timeoutMs > 0 rule throws the same error in the credential pool and the resolver', () => {
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    for (const timeoutMs of [0, -1]) {
      const fromPool = thrown(() => createCredentialPool({ timeoutMs }));
      const fromResolver = thrown(() => createResolver({ people: [] }, countingDirectory({}), { timeoutMs }));
      for (const err of [fromPool, fromResolver]) {
        expect(err).toBeInstanceOf(PeerAuthRangeError);
        expect(err).toBeInstanceOf(RangeError);
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect(err).toMatchObject({ code: 'PEERAUTH_ARGUMENT_OUT_OF_RANGE' });
        expect(isPeerAuthError(err)).toBe(true);
      }
      expect(Object.getPrototypeOf(fromPool).constructor.name).toBe(
        Object.getPrototypeOf(fromResolver).constructor.name,
      );
    }
  });

  it("identity's range error is core-native's, and every bad argument is one InvalidArgumentError", () => {
    const fromIdentity = new IdentityRangeError('maxGroupNames out of range');
    expect(fromIdentity).toBeInstanceOf(PeerAuthRangeError);
    expect(fromIdentity).toBeInstanceOf(RangeError);
    expect(fromIdentity).toBeInstanceOf(InvalidArgumentError);
    expect(new PeerAuthRangeError('x')).toBeInstanceOf(IdentityRangeError);
    expect(PeerAuthTypeError).toBe(InvalidArgumentError);

    const badType = new InvalidArgumentError('gids must be an array of gids');
    expect(badType).toBeInstanceOf(TypeError);
    expect(badType.code).toBe('PEERAUTH_INVALID_ARGUMENT');
    // A cache option out of range, from this package, is the same error too.
    let cacheError: unknown;
    try {
      createCachingDirectory(countingDirectory({}), { ttlMs: -1 });
    } catch (err) {
      cacheError = err;
    }
    expect(cacheError).toBeInstanceOf(InvalidArgumentError);
    // Errors that are not about an argument are not.
    expect(new InvalidUidError(-1)).not.toBeInstanceOf(InvalidArgumentError);
    expect(Object.assign(new TypeError('x'), { code: 'PEERAUTH_INVALID_ARGUMENT' })).not.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('workload-api errors are core-native PeerAuthErrors, not a copy of its marker', () => {
    let endpointError: unknown;
    try {
      createX509Source({ endpoint: 'http://127.0.0.1:8081' });
    } catch (err) {
      endpointError = err;
    }
    expect(endpointError).toBeInstanceOf(PeerAuthError);
    expect((endpointError as Error).name).toBe('WorkloadApiError');
  });
});
