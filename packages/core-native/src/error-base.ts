// The one error model of every peerauth package: a registry marker, the base class, `defineError` (each
// package's errors.ts is a table of its calls), and the one invalid-argument error with its out-of-range
// form. Every failure carries a stable `code`, so callers branch on the code instead of parsing messages.
// Codes are `PEERAUTH_...`, except where the code is a system errno the kernel reported (EBADF, ENOTSOCK,
// EOVERFLOW, ...), which stays the errno as in Node's own system errors.
//
// This file has no imports and exists twice, byte for byte: packages/core-native/src/error-base.ts is the
// one every package imports (`@peerauth/core-native`, or `@peerauth/core-native/errors`, which loads no
// addon); packages/identity/src/error-base.ts is its deliberate twin, because @peerauth/identity depends on
// zod alone. identity's test/error-base.test.ts fails when the two differ. The marker is a registry symbol
// and the argument errors test it rather than their prototype chain, so the twin's errors, and those of a
// second installed copy of a package, are the same errors to isPeerAuthError() and `instanceof`.

const PEERAUTH_ERROR = Symbol.for('@peerauth/error');

/** The fields every peerauth error has, whichever class it is (PeerAuthError, TypeError, RangeError). */
export interface PeerAuthErrorLike extends Error {
  readonly code: string;
}

/** True for an error any peerauth package created (every one has a stable `code`). */
export function isPeerAuthError(value: unknown): value is PeerAuthErrorLike {
  return (
    value instanceof Error &&
    (value as unknown as Record<symbol, unknown>)[PEERAUTH_ERROR] === true &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

function mark(err: Error, code: string): void {
  Object.defineProperty(err, PEERAUTH_ERROR, { value: true });
  (err as unknown as { code: string }).code = code;
}

/** Base class of every peerauth error that is not an argument error; `code` is stable, the message is for humans. */
export class PeerAuthError extends Error {
  declare readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    mark(this, code);
  }
}

/** A base `defineError` builds on: PeerAuthError or a package's own base, all called `(code, message, options)`. */
export type PeerAuthErrorBase = abstract new (code: string, message: string, options?: ErrorOptions) => Error;

/**
 * A class for one error code: `message` writes the text from the constructor's arguments; `options`, when
 * given, picks the ErrorOptions (a `cause`) from them. A class with fields of its own extends the result.
 */
export function defineError<const C extends string, A extends unknown[], B extends PeerAuthErrorBase>(
  code: C,
  message: (...args: A) => string,
  Base: B,
  options?: (...args: A) => ErrorOptions | undefined,
): abstract new (
  ...args: A
) => InstanceType<B> & { readonly code: C };
export function defineError<const C extends string, A extends unknown[]>(
  code: C,
  message: (...args: A) => string,
): abstract new (
  ...args: A
) => PeerAuthError & { readonly code: C };
export function defineError(
  code: string,
  message: (...args: unknown[]) => string,
  Base: PeerAuthErrorBase = PeerAuthError,
  options?: (...args: unknown[]) => ErrorOptions | undefined,
): abstract new (
  ...args: unknown[]
) => Error {
  abstract class Defined extends (Base as new (
    code: string,
    message: string,
    options?: ErrorOptions,
  ) => Error) {
    constructor(...args: unknown[]) {
      super(code, message(...args), options?.(...args));
    }
  }
  return Defined;
}

/** The codes of a bad argument: the wrong type or shape, or a number outside its range. */
const ARGUMENT_CODES: ReadonlySet<string> = new Set([
  'PEERAUTH_INVALID_ARGUMENT',
  'PEERAUTH_ARGUMENT_OUT_OF_RANGE',
]);

/**
 * The one invalid-argument error (`PEERAUTH_INVALID_ARGUMENT`): an argument or option of the wrong type or
 * value. Still a TypeError, so checks written against the built-in class keep working. `instanceof` holds
 * for every bad argument of every peerauth package, its out-of-range form (PeerAuthRangeError) included.
 */
export class InvalidArgumentError extends TypeError {
  declare readonly code: string;
  constructor(message: string, code = 'PEERAUTH_INVALID_ARGUMENT') {
    super(message);
    mark(this, code);
  }
}

/**
 * The invalid-argument error for a number outside its range (`PEERAUTH_ARGUMENT_OUT_OF_RANGE`); a
 * RangeError, so checks written against the built-in class keep working.
 */
export class PeerAuthRangeError extends RangeError {
  declare readonly code: string;
  constructor(message: string, code = 'PEERAUTH_ARGUMENT_OUT_OF_RANGE') {
    super(message);
    mark(this, code);
  }
}

/**
 * `instanceof cls` holds by the prototype as usual, and for `cls` itself (not a subclass) for any peerauth
 * error that `test` accepts: the same error made by another copy of this file (identity's twin, a second
 * installed copy of a package) is the same error.
 */
function sameErrorByCode(
  cls: abstract new (...args: never[]) => Error,
  test: (value: PeerAuthErrorLike) => boolean,
): void {
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
      return this === cls && isPeerAuthError(value) && test(value);
    },
  });
}

sameErrorByCode(InvalidArgumentError, (value) => ARGUMENT_CODES.has(value.code));
sameErrorByCode(
  PeerAuthRangeError,
  (value) => value instanceof RangeError && value.code === 'PEERAUTH_ARGUMENT_OUT_OF_RANGE',
);

/** The name the invalid-argument error had before it was the one class; the same class. */
export const PeerAuthTypeError = InvalidArgumentError;
export type PeerAuthTypeError = InvalidArgumentError;
