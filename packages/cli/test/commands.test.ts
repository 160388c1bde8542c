import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtures, runCli } from './helpers.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('peerauth exit codes and one-shot commands', () => {
  it('--version prints the package version and exits 0', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('an unknown command or option is a usage error (exit 2)', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    const r = await runCli(['serve', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--no-such-flag');
  });

  it('proxy without --upstream is a usage error', async () => {
    const r = await runCli(['proxy']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--upstream');
  });

  it('check-config accepts a valid config with a one-line summary', async () => {
    const r = await runCli(['check-config', path.join(fixtures, 'configs/valid.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('ok: 4 people');
  });

  it('check-config lists every problem of an invalid config with its path (exit 1)', async () => {
    const r = await runCli(['check-config', path.join(fixtures, 'configs/invalid.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('7 problems');
    expect(r.stderr).toContain('people[2].role: unknown role "admn" (did you mean "admin"?)');
    expect(r.stderr).toContain('groupRoles.docker: unknown role "membr"');
    expect(r.stderr).toContain('userMaps[0].systemUser: invalid regular expression');
    expect(r.stderr).toContain('trustDomain: invalid trust domain');
  });

  it('check-config on a missing file is a runtime error naming the file', async () => {
    const r = await runCli(['check-config', '/nonexistent/peerauth.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/peerauth.json');
  });

  it('an invalid --mode is refused before anything is created', async () => {
    const r = await runCli(['serve', '--mode', '0999', '--socket', '/tmp/pacli-never/never.sock']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--mode');
    expect(r.stderr).toContain('0999');
  });

  it('resolve explains each stage for the current user and for a stranger', async () => {
    const me = await runCli(['resolve', '--json', String(process.getuid!())]);
    expect(me.code).toBe(0);
    const id = JSON.parse(me.stdout);
    expect(id.role).toBe('owner');
    expect(id.trail.map((s: { stage: string }) => s.stage)).toEqual(['username', 'person', 'role', 'spiffe']);

    const stranger = await runCli(['resolve', '4294967294']);
    expect(stranger.code).toBe(0);
    expect(stranger.stdout).toContain('public (fallback)');
    expect(stranger.stdout).toContain('spiffe://peerauth.local/uid-4294967294');
  });

  it('resolve of an unknown username fails clearly', async () => {
    const r = await runCli(['resolve', 'pacli-nobody-here']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such user: pacli-nobody-here');
  });

  it('doctor reports platform support and where the addon came from', async () => {
    const r = await runCli(['doctor', '--socket', '/tmp/pacli-doctor.sock']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`platform\\s+${process.platform}: pid (yes|no), groups (yes|no), pidfd (yes|no)`),
    );
    expect(r.stdout).toMatch(/addon\s+loaded from a (prebuild|local build)/);
    expect(r.stdout).toContain('(embedded default): ok');
  });

  it('doctor fails on a config that does not parse', async () => {
    const r = await runCli(['doctor', '--config', path.join(fixtures, 'configs/invalid.json')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('people[2].role');
  });
});
