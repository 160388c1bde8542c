// Each flag is read by one parser, wired into commander, and refused the same way under every command
// that takes it: the same exit code (the README's table) and the same PEERAUTH_ code, before anything is
// created. Before, `--mode 999` exited 2 under doctor and 1 under serve, where its PEERAUTH_INVALID_MODE
// was dropped.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { runCliToExit, tempDir } from './helpers.js';

let dir: string;
let socket: string;

beforeAll(() => {
  dir = tempDir('paflag-');
  socket = path.join(dir, 's.sock');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Each command with the flags it needs to get as far as its options, the flag under test last. */
function under(command: string, flag: string[]): string[] {
  switch (command) {
    case 'proxy':
      return ['proxy', '--socket', socket, '--upstream', 'http://127.0.0.1:1', ...flag];
    case 'exec':
      return ['exec', '--socket', socket, ...flag, '--', 'cat'];
    default:
      return [command, '--socket', socket, ...flag];
  }
}

async function refusals(commands: string[], flag: string[]) {
  const out = [];
  for (const command of commands) {
    const r = await runCliToExit(under(command, flag));
    // Every one is refused: an exit after the guard's SIGTERM is not such a refusal.
    expect(r.timedOut, r.stderr).toBeUndefined();
    out.push({ command, code: r.code, stderr: r.stderr, listening: r.stdout.includes('listening') });
  }
  // Nothing was bound or created by any of them.
  expect(fs.readdirSync(dir)).toEqual([]);
  return out;
}

describe('one parser and one exit code per flag, whichever command takes it', () => {
  it('--mode 999 under serve, proxy, exec and doctor: exit 1 with PEERAUTH_INVALID_MODE', async () => {
    const got = await refusals(['serve', 'proxy', 'exec', 'doctor'], ['--mode', '999']);
    for (const r of got) {
      expect({ command: r.command, code: r.code }).toEqual({ command: r.command, code: 1 });
      expect(r.stderr, r.command).toBe(
        'peerauth: PEERAUTH_INVALID_MODE: --mode: invalid socket mode "999": expected octal digits such as "0660" or "660"\n',
      );
      expect(r.listening).toBe(false);
    }
  });

  it('a bad --idle-timeout under serve, proxy and exec: exit 1 with PEERAUTH_INVALID_ARGUMENT naming the flag', async () => {
    for (const value of ['1.5', 'x']) {
      const got = await refusals(['serve', 'proxy', 'exec'], ['--idle-timeout', value]);
      for (const r of got) {
        expect({ command: r.command, code: r.code }).toEqual({ command: r.command, code: 1 });
        expect(r.stderr, r.command).toBe(
          `peerauth: PEERAUTH_INVALID_ARGUMENT: --idle-timeout must be a whole number >= 0, got "${value}"\n`,
        );
      }
    }
  });

  it('--max-children 0: exit 1 with PEERAUTH_INVALID_ARGUMENT, like every other count', async () => {
    const [r] = await refusals(['exec'], ['--max-children', '0']);
    expect(r!.code).toBe(1);
    expect(r!.stderr).toBe(
      'peerauth: PEERAUTH_INVALID_ARGUMENT: --max-children must be a whole number >= 1, got "0"\n',
    );
  });

  it('a count under a TLS flag is refused as every other count (exit 1), with or without --tls-listen', async () => {
    const got = await refusals(['serve', 'proxy'], ['--tls-handshake-timeout', 'soon']);
    for (const r of got) {
      expect({ command: r.command, code: r.code }).toEqual({ command: r.command, code: 1 });
      expect(r.stderr).toContain(
        'PEERAUTH_INVALID_ARGUMENT: --tls-handshake-timeout must be a whole number >= 100, got "soon"',
      );
    }
  });

  it('an empty --socket is a usage error (exit 2) under every command that takes it, whoami too', async () => {
    for (const command of ['serve', 'proxy', 'exec', 'doctor', 'whoami']) {
      const args = under(command, []).map((a) => (a === socket ? '' : a));
      const r = await runCliToExit(args);
      expect(r.timedOut, r.stderr).toBeUndefined();
      expect({ command, code: r.code }).toEqual({ command, code: 2 });
      expect(r.stderr, command).toContain('PEERAUTH_INVALID_ARGUMENT: --socket needs a path');
    }
  });

  it('a --bundle not in TRUST_DOMAIN=FILE form is a usage error (exit 2) under serve, check-config and doctor', async () => {
    const args: Record<string, string[]> = {
      serve: ['serve', '--socket', socket, '--bundle', 'a.test'],
      'check-config': ['check-config', path.join(dir, 'none.json'), '--bundle', 'a.test'],
      doctor: ['doctor', '--socket', socket, '--bundle', 'a.test'],
    };
    for (const [command, argv] of Object.entries(args)) {
      const r = await runCliToExit(argv);
      expect(r.timedOut, r.stderr).toBeUndefined();
      expect({ command, code: r.code }).toEqual({ command, code: 2 });
      expect(r.stderr, command).toContain('--bundle must be TRUST_DOMAIN=FILE, got "a.test"');
    }
  });
});

describe('a failure no peerauth check named still prints a PEERAUTH_ code', () => {
  it('commander: an unknown option or a missing required option is PEERAUTH_USAGE naming the flag (exit 2)', async () => {
    const unknown = await runCliToExit(['serve', '--socket', socket, '--no-such-flag']);
    expect(unknown.timedOut, unknown.stderr).toBeUndefined();
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^peerauth: PEERAUTH_USAGE: unknown option '--no-such-flag'$/m);
    const missing = await runCliToExit(['proxy', '--socket', socket]);
    expect(missing.timedOut, missing.stderr).toBeUndefined();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^peerauth: PEERAUTH_USAGE: required option '--upstream <url>' not specified$/m,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  let certs: SvidCerts;
  let busy: net.Server;
  let port: number;

  beforeAll(async () => {
    certs = createSvidCerts();
    busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as net.AddressInfo).port;
  }, 60_000);
  afterAll(async () => {
    certs?.cleanup();
    await new Promise((resolve) => busy?.close(resolve));
  });

  it('--tls-listen on a port another process holds: PEERAUTH_SYSTEM_ERROR with the errno and the address (exit 1)', async () => {
    const r = await runCliToExit([
      'serve',
      '--socket',
      socket,
      '--tls-listen',
      `127.0.0.1:${port}`,
      '--svid-cert',
      certs.server.cert,
      '--svid-key',
      certs.server.key,
      '--bundle',
      `${DOMAIN_A}=${certs.bundleA}`,
    ]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^peerauth: PEERAUTH_SYSTEM_ERROR: listen EADDRINUSE: .*127\\.0\\.0\\.1:${port}`, 'm'),
    );
    expect(fs.existsSync(socket)).toBe(false);
  });
});
