// The package must install anywhere npm runs: no native code in what it publishes, zod as its only dependency.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('published package', () => {
  it('contains no native code', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      env: { ...process.env, npm_config_loglevel: 'error' },
    });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const files = pack!.files.map((f) => f.path);
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files, 'dist/ is published (run `npm run build` before the tests)').toContain('dist/index.js');
    const native = files.filter(
      (f) => /\.(node|cc|cpp|cxx|c|h|hpp|gyp|gypi)$/.test(f) || /(^|\/)binding\.gyp$/.test(f),
    );
    expect(native).toEqual([]);
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('depends on zod alone (pure JavaScript), and declares no install scripts', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['zod']);
    expect(pkg.optionalDependencies).toBeUndefined();
    expect(pkg.peerDependencies).toBeUndefined();
    expect(pkg.gypfile).toBeUndefined();
    for (const script of ['install', 'preinstall', 'postinstall'])
      expect(pkg.scripts?.[script]).toBeUndefined();
  });
});
