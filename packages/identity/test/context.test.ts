import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  currentIdentity,
  type Identity,
  NoIdentityError,
  runWithIdentity,
  tryCurrentIdentity,
  type UnixIdentity,
} from '../src/index.js';

const uidOf = (id: Identity): number | null => (id.auth === 'unix' ? id.uid : null);

const identity = (uid: number): UnixIdentity => ({
  auth: 'unix',
  uid,
  gid: uid,
  pid: null,
  groups: null,
  username: null,
  person: null,
  role: 'public',
  fallback: true,
  spiffeId: `spiffe://peerauth.local/uid-${uid}`,
  selectors: [`unix:uid:${uid}`],
  trail: [],
});

describe('identity context', () => {
  it('currentIdentity throws NoIdentityError outside a context; tryCurrentIdentity gives undefined', () => {
    expect(() => currentIdentity()).toThrow(NoIdentityError);
    try {
      currentIdentity();
    } catch (err) {
      expect((err as NoIdentityError).code).toBe('PEERAUTH_NO_IDENTITY');
    }
    expect(tryCurrentIdentity()).toBeUndefined();
  });

  it('runWithIdentity returns fn’s value and exposes the identity inside', () => {
    const a = identity(1);
    expect(runWithIdentity(a, () => currentIdentity())).toBe(a);
    expect(runWithIdentity(a, () => 42)).toBe(42);
    expect(tryCurrentIdentity()).toBeUndefined();
  });

  it('follows awaits and timers, and concurrent contexts stay apart', async () => {
    const seen = await Promise.all(
      [1, 2, 3].map((uid) =>
        runWithIdentity(identity(uid), async () => {
          await sleep(5 * (4 - uid));
          const afterAwait = uidOf(currentIdentity());
          const inTimer = await new Promise<number | null>((resolve) =>
            setTimeout(() => resolve(uidOf(currentIdentity())), 1),
          );
          return [afterAwait, inTimer];
        }),
      ),
    );
    expect(seen).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('nested contexts shadow and then restore the outer identity', () => {
    runWithIdentity(identity(1), () => {
      runWithIdentity(identity(2), () => expect(uidOf(currentIdentity())).toBe(2));
      expect(uidOf(currentIdentity())).toBe(1);
    });
  });

  it('an exception from fn propagates and leaves no identity behind', () => {
    expect(() =>
      runWithIdentity(identity(1), () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tryCurrentIdentity()).toBeUndefined();
  });
});
