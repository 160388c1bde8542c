// The names other packages compile against (see the cross-package contract): a rename must fail here.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  Identity,
  IdentityConfig,
  MaybePromise,
  PeerCredentialsLike,
  Person,
  Resolver,
  TrailStep,
  UserDirectory,
} from '../src/index.js';
import * as identity from '../src/index.js';

describe('public API', () => {
  it('exports the contract functions', () => {
    const api: Record<string, unknown> = { ...identity };
    for (const name of [
      'parseIdentityConfig',
      'loadIdentityConfig',
      'createResolver',
      'isResolver',
      'formatSpiffeId',
      'runWithIdentity',
      'currentIdentity',
      'tryCurrentIdentity',
    ]) {
      expect(typeof api[name], name).toBe('function');
    }
  });

  it('exports error classes with stable codes, all IdentityError', () => {
    const cases: [Error & { code: string }, string][] = [
      [
        new identity.IdentityConfigError([{ path: 'people', segments: ['people'], message: 'x' }]),
        'PEERAUTH_IDENTITY_CONFIG_INVALID',
      ],
      [new identity.NoIdentityError(), 'PEERAUTH_NO_IDENTITY'],
      [new identity.InvalidTrustDomainError('X', 'bad'), 'PEERAUTH_INVALID_TRUST_DOMAIN'],
      [new identity.InvalidUidError(-1), 'PEERAUTH_INVALID_UID'],
      [
        new identity.IdentityLookupError('userByUid', 'uid 5', 'EIO', false),
        'PEERAUTH_IDENTITY_LOOKUP_FAILED',
      ],
    ];
    for (const [err, code] of cases) {
      expect(err).toBeInstanceOf(identity.IdentityError);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe(code);
      expect(err.name).toBe(err.constructor.name);
    }
  });

  it('has the contract types', () => {
    expectTypeOf<Identity['trail']>().toEqualTypeOf<TrailStep[]>();
    expectTypeOf<TrailStep['stage']>().toEqualTypeOf<'username' | 'person' | 'role' | 'spiffe'>();
    expectTypeOf<Identity['person']>().toEqualTypeOf<Person | null>();
    expectTypeOf<Resolver['resolve']>().parameter(0).toEqualTypeOf<PeerCredentialsLike>();
    expectTypeOf<IdentityConfig['userMaps']>().toEqualTypeOf<
      { systemUser: string; person: string; ignoreCase?: boolean }[]
    >();
    expectTypeOf<IdentityConfig['lookupFailure']>().toEqualTypeOf<'reject' | 'fallback'>();
    // A directory may answer with a promise, or with the value itself when it already knows it.
    expectTypeOf<UserDirectory['userByUid']>().returns.toEqualTypeOf<
      MaybePromise<{ name: string; gid: number } | null>
    >();
    expectTypeOf<Promise<{ name: string; gid: number } | null>>().toMatchTypeOf<
      ReturnType<UserDirectory['userByUid']>
    >();
  });
});
