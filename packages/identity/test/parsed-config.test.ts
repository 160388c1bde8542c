// A config is validated once: parseIdentityConfig's result is marked, and createResolver uses a marked
// config as it is. Anything else (a plain object, a copy of a parsed config) is validated again.
import { describe, expect, it } from 'vitest';
import {
  createResolver,
  IdentityConfigError,
  isParsedIdentityConfig,
  parseIdentityConfig,
} from '../src/index.js';
import { staticDirectory } from './directory.js';

const PLAIN = {
  roles: ['admin', 'public'],
  fallbackRole: 'public',
  people: [{ name: 'A', role: 'admin', uids: [7] }],
};

describe('ParsedIdentityConfig', () => {
  it('parseIdentityConfig returns a frozen, marked config, and returns it as it is when given it again', () => {
    const parsed = parseIdentityConfig(PLAIN);
    expect(isParsedIdentityConfig(parsed)).toBe(true);
    expect(Object.isFrozen(parsed)).toBe(true);
    expect(Object.isFrozen(parsed.people[0])).toBe(true);
    expect(parseIdentityConfig(parsed)).toBe(parsed);
    expect(isParsedIdentityConfig(PLAIN)).toBe(false);
  });

  it('createResolver uses a parsed config as it is', () => {
    const parsed = parseIdentityConfig(PLAIN);
    const resolver = createResolver(parsed, staticDirectory());
    expect(resolver.config).toBe(parsed);
    expect(resolver.withDirectory(staticDirectory()).config).toBe(parsed);
  });

  it('createResolver validates a plain object, and a copy of a parsed config is not trusted', () => {
    const resolver = createResolver(PLAIN, staticDirectory());
    expect(resolver.config).not.toBe(PLAIN);
    expect(isParsedIdentityConfig(resolver.config)).toBe(true);

    const copy = { ...parseIdentityConfig(PLAIN), fallbackRole: 'nobody' };
    expect(isParsedIdentityConfig(copy)).toBe(false);
    expect(() => createResolver(copy, staticDirectory())).toThrow(IdentityConfigError);
    expect(() => createResolver(copy, staticDirectory())).toThrow(/fallbackRole: unknown role "nobody"/);
  });
});
