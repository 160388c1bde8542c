// JSON.parse keeps the last of repeated keys and makes `__proto__` an own property that zod then drops:
// in a config both would silently change what a reader of the file believes. Both are errors with a path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IdentityConfigError, loadIdentityConfig } from '../src/index.js';
import { findRepeatedKeys } from '../src/json-syntax.js';

const dir = mkdtempSync(join(tmpdir(), 'pa28k-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function load(text: string): Promise<IdentityConfigError> {
  const file = join(dir, 'c.json');
  writeFileSync(file, text);
  const err = await loadIdentityConfig(file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(IdentityConfigError);
  return err as IdentityConfigError;
}

describe('repeated and __proto__ keys in a config file', () => {
  it('a repeated key is an error at its path, with its line and column', async () => {
    const text = `{
  "roles": ["public", "admin"],
  "fallbackRole": "public",
  "people": [{ "name": "eve", "uids": [4242], "role": "public", "role": "admin" }]
}`;
    const err = await load(text);
    expect(err.code).toBe('PEERAUTH_IDENTITY_CONFIG_INVALID');
    expect(err.issues).toEqual([
      expect.objectContaining({
        path: 'people[0].role',
        message: expect.stringMatching(/^repeated key "role" \(line 4, column 65\)/),
      }),
    ]);
  });

  it('a __proto__ key is an error at its path, at any depth', async () => {
    const err = await load(
      '{"fallbackRole":"public","people":[],"groupRoles":{"__proto__":{"x":1}},"__proto__":{"fallbackRole":"admin"}}',
    );
    expect(err.issues.map((i) => i.path)).toEqual(['groupRoles.__proto__', '__proto__']);
    for (const issue of err.issues) expect(issue.message).toContain('"__proto__" is not allowed as a key');
  });

  it('keys written differently but equal once decoded are the same key; equal keys in different objects are not', () => {
    expect(findRepeatedKeys('{"a":1,"\\u0061":2}').map((r) => r.segments)).toEqual([['a']]);
    expect(findRepeatedKeys('[{"a":1},{"a":2}]')).toEqual([]);
    expect(findRepeatedKeys('{"a":{"b":[1,{"c":1,"c":2}]}}').map((r) => r.segments)).toEqual([
      ['a', 'b', 1, 'c'],
    ]);
  });
});
