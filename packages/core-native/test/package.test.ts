// What npm does with this package: a build compiles the addon once, and an install runs nothing.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFromSourceCommands } from '../src/index.js';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  files: string[];
};

describe('package.json', () => {
  it('the README lists the same build-from-source commands as NativeAddonMissingError', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const command of buildFromSourceCommands()) expect(readme).toContain(`\n${command}\n`);
  });

  it('has no npm pre/post hooks, so `npm run build` compiles the addon exactly once', () => {
    // npm runs `preX` before and `postX` after `npm run X`: a script named `prebuild` ran prebuildify
    // (a second compile, rewriting prebuilds/) on every build.
    const hooks = Object.keys(pkg.scripts).filter((name) => {
      const m = /^(pre|post)(.+)$/.exec(name);
      return m !== null && (m[2]! in pkg.scripts || ['install', 'pack', 'publish'].includes(m[2]!));
    });
    expect(hooks).toEqual([]);
    expect(pkg.scripts.build).toBe('npm run build:native && npm run build:ts');
  });

  it('publishes no binding.gyp, so npm infers no `node-gyp rebuild` install script', () => {
    const [pack] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, npm_config_loglevel: 'error' },
      }),
    ) as { files: { path: string }[] }[];
    const files = pack!.files.map((f) => f.path);
    expect(files.filter((f) => /(^|\/)binding\.gyp$|\.(cc|h)$/.test(f))).toEqual([]);
    for (const script of ['preinstall', 'install', 'postinstall'])
      expect(pkg.scripts[script]).toBeUndefined();
  });
});
