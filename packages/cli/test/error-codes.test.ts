// An error from any peerauth package reaches the CLI's output as `peerauth: CODE: message` with the exit
// status the README documents (before, only @peerauth/server's errors had their code printed).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { runCli, runCliToExit, tempDir, writeConfig } from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = tempDir('pa15e-');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the CLI prints the code of any peerauth error', () => {
  it('@peerauth/core-native: a failed user lookup is PEERAUTH_LOOKUP_FAILED (exit 1)', async () => {
    // getpwnam_r fails with EIO for this name: the pool's LookupFailedError reaches main as it is.
    const env = nssFaultEnv([{ call: 'getpwnam_r', key: 'pa15e-broken', action: 'EIO' }]);
    const r = await runCli(['resolve', 'pa15e-broken'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^peerauth: PEERAUTH_LOOKUP_FAILED: .*EIO/m);
  });

  it('@peerauth/identity: an invalid config given to serve is PEERAUTH_IDENTITY_CONFIG_INVALID (exit 1)', async () => {
    const file = writeConfig(dir, { roles: ['admin'], people: [], fallbackRole: 'nobody' });
    // runCliToExit: a server that wrongly started is killed by its guard instead of outliving the test.
    const r = await runCliToExit(['serve', '--config', file, '--socket', path.join(dir, 's.sock')]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `peerauth: PEERAUTH_IDENTITY_CONFIG_INVALID: identity config ${file} is invalid`,
    );
    expect(r.stderr).toContain('fallbackRole: unknown role "nobody"');
    expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
  });

  it('@peerauth/server: a socket path longer than sun_path is PEERAUTH_SOCKET_PATH_TOO_LONG (exit 1)', async () => {
    const r = await runCliToExit(['serve', '--socket', path.join(dir, `${'x'.repeat(120)}.sock`)]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^peerauth: PEERAUTH_SOCKET_PATH_TOO_LONG: socket path /m);
  });

  it('@peerauth/server: a bad PEERAUTH_LOG_LEVEL keeps its code and stays a usage error (exit 2)', async () => {
    const r = await runCli(['serve', '--socket', path.join(dir, 's.sock')], {
      env: { PEERAUTH_LOG_LEVEL: 'loud' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^peerauth: PEERAUTH_INVALID_LOG_LEVEL: PEERAUTH_LOG_LEVEL must be one of /m);
  });

  it("the CLI's own failures carry a code too", async () => {
    const r = await runCli(['resolve', 'pa15e-nobody-here']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('peerauth: PEERAUTH_NO_SUCH_USER: no such user: pa15e-nobody-here\n');
    const missing = await runCli(['exec', '--socket', '/nonexistent/x.sock', '--', 'pa28-no-such-command']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^peerauth: PEERAUTH_EXEC_COMMAND_UNUSABLE: exec: cannot run "pa28-no-such-command": not found in PATH/,
    );
    const conflict = await runCli(['serve', '--max-connections', '5', '--reserved-connections', '5']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toBe(
      'peerauth: PEERAUTH_INVALID_ARGUMENT: --reserved-connections (5) must be less than --max-connections (5)\n',
    );
    const bare = await runCli(['exec']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^peerauth: PEERAUTH_USAGE: missing required argument 'command'/);
  });

  it('check-config writes paths as zod does', async () => {
    const file = writeConfig(dir, { roles: ['admin'], people: [], groupRoles: { 'my-group': 'root' } });
    const r = await runCli(['check-config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  groupRoles["my-group"]: unknown role "root"');
  });
});

// Every package keeps one error table, its src/errors.ts (core-native's error-base.ts holds the model and
// the invalid-argument codes), and its README lists each of those codes in a table. A code thrown from
// anywhere else, or missing from the README, fails here.
describe('error tables', () => {
  const packagesDir = path.join(import.meta.dirname, '..', '..');
  const PACKAGES = ['core-native', 'identity', 'server', 'workload-api', 'cli'];
  const tableFiles: Record<string, string[]> = {
    'core-native': ['error-base.ts', 'errors.ts'],
    identity: ['errors.ts'],
    server: ['errors.ts'],
    'workload-api': ['errors.ts'],
    cli: ['errors.ts'],
  };
  // PEERAUTH_ names that are not error codes: the marker exec puts in a child's environment, the one the
  // --workers primary puts in a worker's, and the code of the one process warning identity's resolver emits
  // without a logger.
  const NOT_ERROR_CODES = new Set(['PEERAUTH_EXEC_CONNECTION', 'PEERAUTH_WORKER', 'PEERAUTH_DIRECTORY']);
  const CODE = /'(PEERAUTH_[A-Z0-9_]+)'/g;

  // A table file that is missing reads as empty here, so the other suites still run; the first test fails.
  const codesIn = (file: string): Set<string> =>
    fs.existsSync(file)
      ? new Set([...fs.readFileSync(file, 'utf8').matchAll(CODE)].map((m) => m[1]!))
      : new Set();
  const sources = (dir: string): string[] =>
    fs
      .readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f));
  const tables = new Map(
    PACKAGES.map((pkg) => [
      pkg,
      new Set(tableFiles[pkg]!.flatMap((f) => [...codesIn(path.join(packagesDir, pkg, 'src', f))])),
    ]),
  );

  it('lists each code in one package table only', () => {
    for (const [pkg, files] of Object.entries(tableFiles))
      for (const f of files)
        expect(fs.existsSync(path.join(packagesDir, pkg, 'src', f)), `${pkg}/src/${f}`).toBe(true);
    const seen = new Map<string, string>();
    for (const [pkg, codes] of tables) {
      for (const code of codes) {
        expect(seen.get(code), `${code} is in the tables of ${seen.get(code)} and ${pkg}`).toBeUndefined();
        seen.set(code, pkg);
      }
    }
    expect(seen.size).toBeGreaterThan(50);
  });

  it('every code any package uses is in a table', () => {
    const all = new Set([...tables.values()].flatMap((codes) => [...codes]));
    for (const pkg of PACKAGES) {
      for (const file of sources(path.join(packagesDir, pkg, 'src'))) {
        for (const code of codesIn(file)) {
          if (NOT_ERROR_CODES.has(code)) continue;
          expect(all.has(code), `${code} (${path.relative(packagesDir, file)}) is in no error table`).toBe(
            true,
          );
        }
      }
    }
  });

  it("every code of a package's table is in a table of its README", () => {
    const missing: string[] = [];
    for (const [pkg, codes] of tables) {
      const rows = fs
        .readFileSync(path.join(packagesDir, pkg, 'README.md'), 'utf8')
        .split('\n')
        .filter((line) => line.trimStart().startsWith('|'))
        .join('\n');
      for (const code of codes) if (!rows.includes(`\`${code}\``)) missing.push(`${pkg}: ${code}`);
    }
    expect(missing).toEqual([]);
  });
});
