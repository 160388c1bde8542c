// The identity of the peer a piece of code is serving, carried across awaits and callbacks.
import { AsyncLocalStorage } from 'node:async_hooks';
import { NoIdentityError } from './errors.js';
import type { Identity } from './types.js';

const storage = new AsyncLocalStorage<Identity>();

/**
 * Run `fn` (and everything it schedules) with `identity` as the current identity. Arguments after `fn` are
 * passed to it, so that a hot caller needs no closure per call.
 */
export function runWithIdentity<T, A extends unknown[] = []>(
  identity: Identity,
  fn: (...args: A) => T,
  ...args: A
): T {
  return storage.run(identity, fn, ...args);
}

/** The current identity; throws NoIdentityError outside runWithIdentity. */
export function currentIdentity(): Identity {
  const identity = storage.getStore();
  if (identity === undefined) throw new NoIdentityError();
  return identity;
}

/** The current identity, or undefined outside runWithIdentity. */
export function tryCurrentIdentity(): Identity | undefined {
  return storage.getStore();
}
