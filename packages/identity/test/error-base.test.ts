// @peerauth/identity depends on zod alone, so it cannot import @peerauth/core-native's error base; it
// carries that file's twin instead. The twin must stay the same file, byte for byte, and what it builds
// must be a peerauth error to core-native's checks (the server's error-model test runs those).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdentityError, IdentityRangeError, InvalidSpiffeIdError, parseSpiffeId } from '../src/index.js';

const packages = join(import.meta.dirname, '..', '..');

describe("identity's error base", () => {
  it("is core-native's error-base.ts, byte for byte", () => {
    const mine = readFileSync(join(packages, 'identity/src/error-base.ts'), 'utf8');
    const theirs = readFileSync(join(packages, 'core-native/src/error-base.ts'), 'utf8');
    expect(mine).toBe(theirs);
  });

  it('marks errors with the registry marker core-native checks', () => {
    const marker = Symbol.for('@peerauth/error');
    let thrown: unknown;
    try {
      parseSpiffeId('spiffe://');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidSpiffeIdError);
    expect(thrown).toBeInstanceOf(IdentityError);
    expect((thrown as Record<symbol, unknown>)[marker]).toBe(true);
    expect((thrown as Error).name).toBe('InvalidSpiffeIdError');
    const range = new IdentityRangeError('maxGroupNames out of range');
    expect((range as unknown as Record<symbol, unknown>)[marker]).toBe(true);
    expect(range.code).toBe('PEERAUTH_ARGUMENT_OUT_OF_RANGE');
  });
});
