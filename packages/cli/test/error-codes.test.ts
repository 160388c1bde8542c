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
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `peerauth: PEERAUTH_IDENTITY_CONFIG_INVALID: identity config ${file} is invalid`,
    );
    expect(r.stderr).toContain('fallbackRole: unknown role "nobody"');
    expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
  });

  it('@peerauth/server: a socket path longer than sun_path is PEERAUTH_SOCKET_PATH_TOO_LONG (exit 1)', async () => {
    const r = await runCliToExit(['serve', '--socket', path.join(dir, `${'x'.repeat(120)}.sock`)]);
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

  it("the CLI's own messages stay plain", async () => {
    const r = await runCli(['resolve', 'pa15e-nobody-here']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('peerauth: no such user: pa15e-nobody-here\n');
  });

  it('check-config writes paths as zod does', async () => {
    const file = writeConfig(dir, { roles: ['admin'], people: [], groupRoles: { 'my-group': 'root' } });
    const r = await runCli(['check-config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  groupRoles["my-group"]: unknown role "root"');
  });
});
