import { execFileSync } from 'node:child_process';
import { mkdtemp, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeAfterFile } from '../../../test-fixtures/cleanup.js';
import {
  type ConfigIssue,
  findControlCharacter,
  formatIssuePath,
  IdentityConfigError,
  loadIdentityConfig,
  parseIdentityConfig,
  validateIdentityConfig,
} from '../src/index.js';

const fixtures = join(import.meta.dirname, '../../../test-fixtures/configs');

// Each issue's text path must be zod's rendering of its segments; the tests below then compare the text.
function issuesOf(value: unknown): Omit<ConfigIssue, 'segments'>[] {
  try {
    parseIdentityConfig(value);
  } catch (err) {
    expect(err).toBeInstanceOf(IdentityConfigError);
    return (err as IdentityConfigError).issues.map(({ segments, ...issue }) => {
      expect(formatIssuePath(segments)).toBe(issue.path);
      return issue;
    });
  }
  throw new Error('expected the config to be rejected');
}

const base = { roles: ['admin', 'member', 'public'] };

describe('parseIdentityConfig: valid configs', () => {
  it('fills in defaults: trustDomain peerauth.local, fallbackRole public, no groupRoles or userMaps', () => {
    expect(parseIdentityConfig({ people: [] })).toEqual({
      trustDomain: 'peerauth.local',
      fallbackRole: 'public',
      people: [],
      groupRoles: {},
      userMaps: [],
      spiffeMaps: [],
      trustDomains: {},
      lookupFailure: 'reject',
    });
  });

  it('accepts the full example and keeps unknown fields on people', () => {
    const config = parseIdentityConfig({
      trustDomain: 'example.org',
      fallbackRole: 'public',
      roles: ['admin', 'member', 'public'],
      people: [
        { name: 'Alice', role: 'admin', osUsername: 'alice' },
        { name: 'Build bot', role: 'member', uids: [4300] },
        { name: 'Carol', role: 'member', telegram: '@carol', discord: { id: 42 } },
      ],
      groupRoles: { docker: 'member' },
      userMaps: [{ systemUser: '^svc-(.+)$', person: 'Service $1' }],
    });
    expect(config.people[2]).toEqual({
      name: 'Carol',
      role: 'member',
      telegram: '@carol',
      discord: { id: 42 },
    });
    expect(config.roles).toEqual(['admin', 'member', 'public']);
  });

  it('accepts a config written before osUsername existed', async () => {
    const config = await loadIdentityConfig(join(fixtures, 'legacy-no-osusername.json'));
    expect(config.people.map((p) => p.osUsername)).toEqual([undefined, undefined]);
    expect(config.people[0]).toMatchObject({ telegram: '@alice', discord: 'alice#0001' });
  });

  it('allows any role names when roles is not given', () => {
    const config = parseIdentityConfig({
      people: [{ name: 'A', role: 'anything' }],
      groupRoles: { g: 'other' },
    });
    expect(config.people[0]!.role).toBe('anything');
  });

  it('allows a $schema key and uids up to 2^32-1', () => {
    expect(() =>
      parseIdentityConfig({
        $schema: './schema.json',
        people: [{ name: 'A', role: 'x', uids: [0, 4294967295] }],
      }),
    ).not.toThrow();
    expect(parseIdentityConfig({ $schema: 'x', people: [] })).not.toHaveProperty('$schema');
  });

  it('is idempotent: a parsed config parses to itself', () => {
    const once = parseIdentityConfig({ ...base, people: [{ name: 'A', role: 'admin' }] });
    expect(parseIdentityConfig(once)).toEqual(once);
  });

  it('does not require templated userMaps persons to exist (they are checked per username)', () => {
    expect(() =>
      parseIdentityConfig({ people: [], userMaps: [{ systemUser: '^svc-(.+)$', person: 'Service $1' }] }),
    ).not.toThrow();
  });

  it('treats $$ as a literal dollar, so "Cost $$" must name the person "Cost $"', () => {
    expect(() =>
      parseIdentityConfig({
        people: [{ name: 'Cost $', role: 'x' }],
        userMaps: [{ systemUser: 'a', person: 'Cost $$' }],
      }),
    ).not.toThrow();
    expect(
      issuesOf({ people: [], userMaps: [{ systemUser: 'a', person: 'Cost $$' }] })[0]!.message,
    ).toContain('"Cost $"');
  });
});

describe('parseIdentityConfig: each error', () => {
  it('unknown role on a person, with a suggestion', () => {
    expect(
      issuesOf({
        ...base,
        people: [
          { name: 'A', role: 'admin' },
          { name: 'B', role: 'x' },
          { name: 'C', role: 'admn' },
        ],
      }),
    ).toEqual([
      { path: 'people[1].role', message: 'unknown role "x" (roles: "admin", "member", "public")' },
      { path: 'people[2].role', message: 'unknown role "admn" (did you mean "admin"?)' },
    ]);
  });

  it('paths are written as zod writes them, and kept as segments', () => {
    const { issues } = new IdentityConfigError(
      validateIdentityConfig({ ...base, people: [], groupRoles: { 'my-group': 'root', wheel: 'x' } }),
    );
    expect(issues.map((i) => [i.path, i.segments])).toEqual([
      ['groupRoles["my-group"]', ['groupRoles', 'my-group']],
      ['groupRoles.wheel', ['groupRoles', 'wheel']],
    ]);
    expect(formatIssuePath(['people', 2, 'role'])).toBe('people[2].role');
    expect(formatIssuePath(['groupRoles', 'a\u007fb'])).toBe('groupRoles["a\\u007fb"]');
    expect(formatIssuePath([])).toBe('(root)');
  });

  it('unknown role in groupRoles and fallbackRole', () => {
    expect(
      issuesOf({
        ...base,
        fallbackRole: 'guest',
        people: [],
        groupRoles: { docker: 'membr', 'my group': 'root' },
      }),
    ).toEqual([
      { path: 'fallbackRole', message: 'unknown role "guest" (roles: "admin", "member", "public")' },
      { path: 'groupRoles.docker', message: 'unknown role "membr" (did you mean "member"?)' },
      { path: 'groupRoles["my group"]', message: 'unknown role "root" (roles: "admin", "member", "public")' },
    ]);
  });

  it('the default fallbackRole must be in roles too', () => {
    const [issue] = issuesOf({ roles: ['admin'], people: [] });
    expect(issue!.path).toBe('fallbackRole');
    expect(issue!.message).toContain('unknown role "public" (the default fallbackRole');
  });

  it('suggests a role differing only in case or by a transposition', () => {
    const issues = issuesOf({
      ...base,
      people: [
        { name: 'A', role: 'Admin' },
        { name: 'B', role: 'memebr' },
      ],
    });
    expect(issues.map((i) => i.message)).toEqual([
      'unknown role "Admin" (did you mean "admin"?)',
      'unknown role "memebr" (did you mean "member"?)',
    ]);
  });

  it('the same osUsername on two people', () => {
    expect(
      issuesOf({
        people: [
          { name: 'A', role: 'r', osUsername: 'alice' },
          { name: 'B', role: 'r', osUsername: 'alice' },
        ],
      }),
    ).toEqual([
      {
        path: 'people[1].osUsername',
        message: 'duplicate osUsername "alice": already used by people[0] ("A")',
      },
    ]);
  });

  it('the same uid on two people, or twice on one', () => {
    expect(
      issuesOf({
        people: [
          { name: 'A', role: 'r', uids: [1, 2] },
          { name: 'B', role: 'r', uids: [3, 2, 3] },
        ],
      }),
    ).toEqual([
      { path: 'people[1].uids[1]', message: 'duplicate uid 2: already used by people[0] ("A")' },
      { path: 'people[1].uids[2]', message: 'duplicate uid 3: listed twice for the same person' },
    ]);
  });

  it('the same name on two people (userMaps refer to people by name)', () => {
    expect(
      issuesOf({
        people: [
          { name: 'A', role: 'r' },
          { name: 'A', role: 'r' },
        ],
      })[0],
    ).toMatchObject({
      path: 'people[1].name',
    });
  });

  it('an invalid trust domain', () => {
    const cases: [string, string][] = [
      ['Example.org', 'use lowercase'],
      ['spiffe://example.org', 'without "spiffe://"'],
      ['', 'must not be empty'],
      ['example.org:443', 'only lowercase letters'],
      ['a'.repeat(256), 'at most 255 bytes'],
    ];
    for (const [trustDomain, reason] of cases) {
      const issues = issuesOf({ trustDomain, people: [] });
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toBe('trustDomain');
      expect(issues[0]!.message).toContain(reason);
    }
  });

  it('an invalid regular expression in userMaps', () => {
    const [issue] = issuesOf({ people: [], userMaps: [{ systemUser: '^svc-(.+$', person: 'Service $1' }] });
    expect(issue!.path).toBe('userMaps[0].systemUser');
    expect(issue!.message).toMatch(/^invalid regular expression "\^svc-\(\.\+\$": .+/);
  });

  it('a userMaps person that names no person', () => {
    expect(
      issuesOf({
        people: [{ name: 'Operator', role: 'r' }],
        userMaps: [{ systemUser: '^ops$', person: 'Operater' }],
      }),
    ).toEqual([
      {
        path: 'userMaps[0].person',
        message: 'names no person: no entry in people has name "Operater" (did you mean "Operator"?)',
      },
    ]);
  });

  it('a userMaps template that refers to a capture group the pattern lacks', () => {
    expect(issuesOf({ people: [], userMaps: [{ systemUser: '^svc-.+$', person: 'Service $1' }] })).toEqual([
      {
        path: 'userMaps[0].person',
        message: '"Service $1" refers to capture group $1 but systemUser has 0 groups',
      },
    ]);
  });

  it('unknown fields at the top level and in userMaps, with suggestions', () => {
    expect(
      issuesOf({ people: [], grouproles: {}, userMaps: [{ systemUser: 'a', person: '$0', persn: 'x' }] }),
    ).toEqual([
      { path: 'userMaps[0].persn', message: 'unknown field (did you mean "person"?)' },
      { path: 'grouproles', message: 'unknown field (did you mean "groupRoles"?)' },
    ]);
  });

  it('missing people, and wrong types', () => {
    expect(issuesOf({})).toEqual([
      { path: 'people', message: 'required: a list of people (it may be empty)' },
    ]);
    expect(issuesOf(null)[0]!.path).toBe('(root)');
    expect(issuesOf([])[0]!.path).toBe('(root)');
    const issues = issuesOf({
      trustDomain: 5,
      people: [{ name: '', role: 3, uids: [-1, 1.5, 2 ** 32] }, 'bob'],
    });
    expect(issues.map((i) => i.path)).toEqual([
      'trustDomain',
      'people[0].name',
      'people[0].role',
      'people[0].uids[0]',
      'people[0].uids[1]',
      'people[0].uids[2]',
      'people[1]',
    ]);
    expect(issues[1]!.message).toBe('must not be empty');
    expect(issues[3]!.message).toBe('must be a uid in 0..4294967295');
  });

  it('collects every error at once, in document order, each named in the message', () => {
    const issues = validateIdentityConfig({
      trustDomain: 'Bad',
      roles: ['admin', 'public'],
      people: [
        { name: 'A', role: 'admn', osUsername: 'a' },
        { name: 'B', role: 'admin', osUsername: 'a' },
      ],
      userMaps: [{ systemUser: '(', person: 'Nobody' }],
    });
    expect(issues.map((i) => i.path)).toEqual([
      'trustDomain',
      'people[0].role',
      'people[1].osUsername',
      'userMaps[0].systemUser',
      'userMaps[0].person',
    ]);
    const err = new IdentityConfigError(issues);
    expect(err.code).toBe('PEERAUTH_IDENTITY_CONFIG_INVALID');
    expect(err.message).toContain('5 problems');
    for (const issue of issues) expect(err.message).toContain(`${issue.path}: ${issue.message}`);
  });

  it('control characters and DEL in names, roles and group names, each with its path', () => {
    const issues = issuesOf({
      roles: ['admin', 'pub\tlic', 'public'],
      fallbackRole: 'pub\tlic',
      people: [
        { name: 'Eve\u0000', role: 'admin' },
        { name: 'Mallory\nPEERAUTH_ROLE=admin', role: 'admin' },
        { name: 'Trudy', role: 'pub\tlic' },
        { name: 'Del\u007f', role: 'admin' },
        { name: 'Esc \u001b[31m', role: 'admin' },
      ],
      groupRoles: { 'dock\rer': 'admin', staff: 'pub\tlic', 'wheel\u007f': 'admin' },
    });
    expect(issues).toEqual([
      { path: 'fallbackRole', message: expect.stringContaining('U+0009') },
      { path: 'roles[1]', message: expect.stringContaining('U+0009') },
      { path: 'people[0].name', message: expect.stringContaining('U+0000') },
      { path: 'people[1].name', message: expect.stringContaining('U+000A') },
      { path: 'people[2].role', message: expect.stringContaining('U+0009') },
      { path: 'people[3].name', message: expect.stringContaining('U+007F') },
      { path: 'people[4].name', message: expect.stringContaining('U+001B') },
      { path: 'groupRoles["dock\\rer"]', message: expect.stringContaining('group name') },
      { path: 'groupRoles.staff', message: expect.stringContaining('U+0009') },
      { path: 'groupRoles["wheel\\u007f"]', message: expect.stringContaining('U+007F') },
    ]);
    // The path itself stays printable, so the message cannot smuggle a line into a log or terminal.
    for (const issue of issues) expect(findControlCharacter(issue.path)).toBeNull();
  });

  it('printable names pass, non-ASCII letters included', () => {
    expect(
      validateIdentityConfig({
        roles: ['rôle', 'public'],
        people: [{ name: 'Zoë Ωmega 李', role: 'rôle' }],
        groupRoles: { équipe: 'rôle' },
      }),
    ).toEqual([]);
  });

  it('validateIdentityConfig returns [] for a valid config', () => {
    expect(validateIdentityConfig({ people: [] })).toEqual([]);
  });
});

describe('loadIdentityConfig', () => {
  it('loads the valid fixture', async () => {
    const config = await loadIdentityConfig(join(fixtures, 'valid.json'));
    expect(config.trustDomain).toBe('example.org');
    expect(config.people).toHaveLength(4);
  });

  it('reports every problem in the invalid fixture, naming the file', async () => {
    const file = join(fixtures, 'invalid.json');
    const err = await loadIdentityConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityConfigError);
    const e = err as IdentityConfigError;
    expect(e.file).toBe(file);
    expect(e.message).toContain(file);
    expect(e.issues.map((i) => i.path)).toEqual([
      'trustDomain',
      'people[1].osUsername',
      'people[2].role',
      'people[3].uids[0]',
      'groupRoles.docker',
      'userMaps[0].systemUser',
      'userMaps[1].person',
    ]);
    expect(e.message).toContain('people[2].role: unknown role "admn" (did you mean "admin"?)');
  });

  it('reports bad JSON with its line and column', async () => {
    const dir = removeAfterFile(await mkdtemp(join(tmpdir(), 'peerauth-identity-')));
    const file = join(dir, 'bad.json');
    await writeFile(file, '{\n  "people": [\n    { "name": "A", }\n  ]\n}\n');
    const err = (await loadIdentityConfig(file).catch((e: unknown) => e)) as IdentityConfigError;
    expect(err).toBeInstanceOf(IdentityConfigError);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.message).toMatch(/^invalid JSON at line 3 column \d+/);
    expect(err.message).toContain(file);
  });

  it('reports an unreadable file as IdentityConfigError naming the path', async () => {
    const file = join(tmpdir(), 'peerauth-identity-does-not-exist.json');
    const err = (await loadIdentityConfig(file).catch((e: unknown) => e)) as IdentityConfigError;
    expect(err).toBeInstanceOf(IdentityConfigError);
    expect(err.issues[0]).toMatchObject({ path: '(file)' });
    expect(err.message).toContain('ENOENT');
    expect(err.message).toContain(file);
  });

  it.each([
    ['a trailing comma in an array', '{\n  "people": [],\n  "roles": ["a",]\n}\n', 3, 17, 'trailing comma'],
    ['a trailing comma in an object', '{\n  "people": [],\n}\n', 3, 1, 'trailing comma'],
    ['a truncated file', '{\n  "people": [\n', 3, 1, 'unexpected end of input'],
    ['a missing colon', '{\n  "people" []\n}\n', 2, 12, "expected ':' after property name"],
    [
      'a column after a non-BMP character',
      '{ "people": [], "x": "\u{1F600}" "y": 1 }',
      1,
      27,
      "expected ',' or '}'",
    ],
  ])('reports %s with its line and column', async (_what, text, line, column, what) => {
    const dir = removeAfterFile(await mkdtemp(join(tmpdir(), 'peerauth-identity-')));
    const file = join(dir, 'bad.json');
    await writeFile(file, text);
    const err = (await loadIdentityConfig(file).catch((e: unknown) => e)) as IdentityConfigError;
    expect(err).toBeInstanceOf(IdentityConfigError);
    expect(err.issues[0]!.message).toContain(`invalid JSON at line ${line} column ${column} (${what})`);
  });

  it('accepts a UTF-8 byte order mark', async () => {
    const dir = removeAfterFile(await mkdtemp(join(tmpdir(), 'peerauth-identity-')));
    const file = join(dir, 'bom.json');
    await writeFile(file, `\uFEFF${JSON.stringify({ people: [] })}`);
    expect((await loadIdentityConfig(file)).people).toEqual([]);
  });

  it('refuses a FIFO (instead of waiting forever) and a device (instead of reading it to the end)', async () => {
    const dir = removeAfterFile(await mkdtemp(join(tmpdir(), 'peerauth-identity-')));
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    for (const file of [fifo, '/dev/zero']) {
      const err = (await loadIdentityConfig(file).catch((e: unknown) => e)) as IdentityConfigError;
      expect(err, file).toBeInstanceOf(IdentityConfigError);
      expect(err.message).toContain('not a regular file');
    }
  });

  it('refuses a file larger than 16 MiB', async () => {
    const dir = removeAfterFile(await mkdtemp(join(tmpdir(), 'peerauth-identity-')));
    const file = join(dir, 'huge.json');
    await truncate(file, 0).catch(() => writeFile(file, ''));
    await truncate(file, 16 * 1024 * 1024 + 1);
    const err = (await loadIdentityConfig(file).catch((e: unknown) => e)) as IdentityConfigError;
    expect(err).toBeInstanceOf(IdentityConfigError);
    expect(err.message).toContain('16777216 bytes');
  });
});
