// What the logs and error messages tell a newcomer: whose pid is whose, which format, which levels, and
// why whoami got no answer.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseLogFormat } from '../src/logger.js';
import { curlJson, runCli, startCli, tempDir, waitFor } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('pa14-log-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('log format default', () => {
  const saved = { out: process.stdout.isTTY, err: process.stderr.isTTY };
  afterEach(() => {
    process.stdout.isTTY = saved.out;
    process.stderr.isTTY = saved.err;
  });

  it('follows stderr, where the logs go, not stdout', () => {
    process.stdout.isTTY = true;
    process.stderr.isTTY = false;
    expect(parseLogFormat(undefined)).toBe('json');
    process.stdout.isTTY = false;
    process.stderr.isTTY = true;
    expect(parseLogFormat(undefined)).toBe('pretty');
  });
});

describe('PEERAUTH_LOG_LEVEL', () => {
  it('an unknown level is a usage error (exit 2) listing the valid ones', async () => {
    const r = await runCli(['serve', '--socket', path.join(dir, 'lvl.sock')], {
      env: { PEERAUTH_LOG_LEVEL: 'verbose' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'PEERAUTH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    );
    expect(fs.existsSync(path.join(dir, 'lvl.sock'))).toBe(false);
  });
});

describe('audit lines', () => {
  it.each(['json', 'pretty'])('%s: pid is the server’s own, the caller’s is peerPid', async (format) => {
    const cli = await startCli(['serve', '--log-format', format], path.join(dir, `${format}.sock`));
    try {
      const body = await curlJson(cli.socket, '/whoami');
      await waitFor(() => cli.stderr().includes('peer connection closed'));
      const serverPid = cli.child.pid!;
      expect(body.pid).not.toBe(serverPid);
      if (format === 'json') {
        const lines = cli
          .stderr()
          .split('\n')
          .filter((l) => l.includes('peerauth.connection'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(lines.length).toBeGreaterThan(0);
        for (const line of lines) expect(line).toMatchObject({ pid: serverPid, peerPid: body.pid });
      } else {
        // pino-pretty's header is "LEVEL (name/pid)": it must name this server, never the caller.
        const headers = [...cli.stderr().matchAll(/\(peerauth\/(\d+)\)/g)].map((m) => Number(m[1]));
        expect(headers.length).toBeGreaterThan(0);
        expect(new Set(headers)).toEqual(new Set([serverPid]));
        expect(cli.stderr()).toContain(`"peerPid":${body.pid}`);
      }
    } finally {
      await cli.stop();
    }
  });
});

describe('whoami refused by role', () => {
  it("says the server refused the connection, with the refusal's class from the server's 403", async () => {
    // This user is the person "owner"; a server admitting only "public" refuses it at accept.
    const cli = await startCli(['serve', '--allow-roles', 'public'], path.join(dir, 'refuse.sock'));
    try {
      // The refusal races the request: the server reads what was sent before it closes, so each time the
      // same message.
      for (let i = 0; i < 5; i++) {
        const r = await runCli(['whoami', '--socket', cli.socket]);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          `peerauth: PEERAUTH_WHOAMI_FAILED: ${cli.socket}: the server refused this connection (role not allowed)\n`,
        );
      }
    } finally {
      await cli.stop();
    }
  });
});
