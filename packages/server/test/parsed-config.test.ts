// The config reaches the server validated once: a ParsedIdentityConfig becomes the resolver's config as it
// is, a plain object is validated here.
import { IdentityConfigError, parseIdentityConfig } from '@peerauth/identity';
import { describe, expect, it } from 'vitest';
import { createPeerServer } from '../src/index.js';
import { silentLogger } from './helpers.js';

const PLAIN = { roles: ['admin', 'guest'], fallbackRole: 'guest', people: [] };

describe('createPeerServer and a parsed identity config', () => {
  it('uses a ParsedIdentityConfig without validating it again', () => {
    const parsed = parseIdentityConfig(PLAIN);
    const server = createPeerServer({ identity: parsed, logger: silentLogger });
    expect(server.resolver.config).toBe(parsed);
  });

  it('validates a plain object', () => {
    const server = createPeerServer({ identity: PLAIN, logger: silentLogger });
    expect(server.resolver.config).not.toBe(PLAIN);
    expect(server.resolver.config.fallbackRole).toBe('guest');
    expect(() =>
      createPeerServer({ identity: { ...PLAIN, fallbackRole: 'nobody' }, logger: silentLogger }),
    ).toThrow(IdentityConfigError);
  });
});
