// The default logger: its `pid` is this server's, the caller's ids are `peer*`, and a bad
// PEERAUTH_LOG_LEVEL is a typed error naming the valid levels.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerServer, InvalidLogLevelError, LOG_LEVELS, parseLogLevel } from '../src/index.js';
import { ensureDist } from './build-dist.js';
import { makeTempDir, removeDir } from './helpers.js';

let dir: string;
beforeAll(() => {
  ensureDist();
  dir = makeTempDir();
}, 120_000);
afterAll(() => removeDir(dir));

describe('PEERAUTH_LOG_LEVEL', () => {
  it('accepts pino’s levels and silent, and defaults to info', () => {
    for (const level of LOG_LEVELS) expect(parseLogLevel(level)).toBe(level);
    expect(parseLogLevel(undefined)).toBe('info');
  });

  it('anything else is InvalidLogLevelError (PEERAUTH_INVALID_LOG_LEVEL) from createPeerServer, listing the levels', () => {
    const saved = process.env.PEERAUTH_LOG_LEVEL;
    process.env.PEERAUTH_LOG_LEVEL = 'verbose';
    try {
      let thrown: unknown;
      try {
        createPeerServer({ path: path.join(dir, 'never.sock') });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InvalidLogLevelError);
      expect(thrown).toMatchObject({
        code: 'PEERAUTH_INVALID_LOG_LEVEL',
        message:
          'PEERAUTH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      });
    } finally {
      if (saved === undefined) delete process.env.PEERAUTH_LOG_LEVEL;
      else process.env.PEERAUTH_LOG_LEVEL = saved;
    }
  });
});

it('the default logger’s lines carry the server’s pid; the connecting process is peerPid', async () => {
  const socketPath = path.join(dir, 'log.sock');
  const script = `
    import { createPeerServer } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const server = createPeerServer({ path: ${JSON.stringify(socketPath)} }, (s) => s.end('x'));
    server.listen(() => console.log('ready'));
    process.stdin.on('end', () => server.close()).resume();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PEERAUTH_LOG_LEVEL: 'info' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  await new Promise<void>((resolve, reject) =>
    net
      .connect(socketPath)
      .on('error', reject)
      .on('close', () => resolve())
      .resume(),
  );
  child.stdin.end();
  await exited;
  const audit = stderr
    .split('\n')
    .filter((l) => l.includes('peerauth.connection'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  // At info, one line per connection: the closing one.
  expect(audit.map((e) => e.decision)).toEqual(['closed']);
  for (const e of audit) {
    expect(e).toMatchObject({ pid: child.pid, peerPid: process.pid, peerUid: process.getuid?.() });
    expect(e).not.toHaveProperty('uid');
  }
});
