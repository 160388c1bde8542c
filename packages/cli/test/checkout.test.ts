// A newcomer's checkout: after `npm ci && npm run build`, `npx peerauth` runs this repository's CLI (never a
// registry package of that name), and `npm start` says what it is doing while it builds.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

const cliDir = path.join(repoRoot, 'packages/cli');
const pkg = JSON.parse(fs.readFileSync(path.join(cliDir, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

describe('in a checkout', () => {
  it('the bin file is committed, so `npm ci` links `peerauth` before anything is built', () => {
    const target = pkg.bin.peerauth!;
    expect(() =>
      execFileSync('git', ['ls-files', '--error-unmatch', target], { cwd: cliDir, stdio: 'pipe' }),
    ).not.toThrow();
    expect(fs.realpathSync(path.join(repoRoot, 'node_modules/.bin/peerauth'))).toBe(
      fs.realpathSync(path.join(cliDir, target)),
    );
  });

  it('`npx peerauth --help` and `--version` run this repository’s CLI', () => {
    // --no-install: were the command not linked, npx must fail here instead of asking the registry.
    const npx = (arg: string) =>
      execFileSync('npx', ['--no-install', 'peerauth', arg], { cwd: repoRoot, encoding: 'utf8' });
    expect(npx('--help')).toMatch(/^Usage: peerauth /);
    expect(npx('--version').trim()).toBe(pkg.version);
  });

  it('`npm start` says it is building, then serves', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa14-start-'));
    const socket = path.join(dir, 's.sock');
    const child = spawn('npm', ['start', '--', '--socket', socket, '--log-format', 'json'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          stdout += d;
          if (stdout.includes(`listening on ${socket}`)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${stderr}`)));
      });
      const building = stderr.indexOf('npm start: building the packages');
      expect(building).toBeGreaterThan(-1);
      expect(stderr.indexOf('npm start: built; starting `peerauth serve`')).toBeGreaterThan(building);
    } finally {
      // npm -> sh -> node: signal the whole group the detached spawn made.
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
