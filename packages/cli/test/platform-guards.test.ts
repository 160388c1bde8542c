// scripts/check-platform-guards.mjs (part of `npm run lint`): a test that reads /proc or runs a Linux-only
// tool must sit under a Linux guard that says why, also through the helpers it calls.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './helpers.js';

type Check = (files: string[]) => string[];
const script = path.join(repoRoot, 'scripts/check-platform-guards.mjs');
const { checkPlatformGuards } = (await import(script)) as { checkPlatformGuards: Check };
// Split, so that this file's own literals are not Linux-only uses for the check.
const PROC = `/pr${'oc'}`;

describe('check-platform-guards', () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const check = (name: string, source: string): string[] => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, source);
    return checkPlatformGuards([file]);
  };

  it('flags /proc read when the module loads, and a Linux-only tool in an unguarded test', () => {
    expect(check('a.test.ts', `const n = readFileSync('${PROC}/sys/kernel/overflowuid');\n`)).toEqual([
      expect.stringMatching(/a\.test\.ts:1: reads \/proc outside a Linux guard/),
    ]);
    expect(check('b.test.ts', "it('x', () => { spawn('timeout', ['1', 'node']); });\n")).toEqual([
      expect.stringMatching(/b\.test\.ts:1: runs timeout outside a Linux guard/),
    ]);
  });

  it('accepts describeAsRoot, and a platform skipIf with its reason; a guard without a reason is flagged', () => {
    expect(
      check('c.test.ts', "describeAsRoot('x', () => { it('y', () => { spawn('setpriv', []); }); });\n"),
    ).toEqual([]);
    expect(
      check(
        'd.test.ts',
        `// the file is Linux's\ndescribe.skipIf(!isLinux)('x', () => { readFileSync('${PROC}/self/stat'); });\n`,
      ),
    ).toEqual([]);
    expect(
      check('e.test.ts', `describe.skipIf(!isLinux)('x', () => { readFileSync('${PROC}/self/stat'); });\n`),
    ).toEqual([expect.stringMatching(/e\.test\.ts:1: a platform guard without a comment saying why/)]);
  });

  it('follows a helper function to its unguarded callers; a use under a condition is the caller’s to guard', () => {
    const helper = [
      `function pgid(pid) { return readFileSync('${PROC}/' + pid + '/stat'); }`,
      "function run(cmd, as) { return as ? spawn('setpriv', [cmd]) : spawn(cmd); }",
      "it('x', () => { pgid(1); run('ls'); });",
      "describeAsRoot('y', () => { it('z', () => { pgid(1); }); });",
      '',
    ].join('\n');
    expect(check('f.test.ts', helper)).toEqual([
      expect.stringMatching(/f\.test\.ts:3: calls pgid\(\), which reads \/proc .*outside a Linux guard/),
    ]);
  });
});
