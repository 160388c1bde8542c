// The default logger: its `pid` is this server's, the caller's ids are `peer*`, and a bad
// PEERAUTH_LOG_LEVEL is a typed error naming the valid levels.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, auditLine } from '../src/audit.js';
import { directLines } from '../src/direct-lines.js';
import {
  createJsonLogger,
  createPeerServer,
  InvalidLogLevelError,
  LOG_LEVELS,
  parseLogLevel,
} from '../src/index.js';
import { ensureDist } from './build-dist.js';
import { makeTempDir, removeDir, waitFor } from './helpers.js';

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

describe('audit lines written directly (createJsonLogger)', () => {
  // Events with every kind of value an audit line holds: nulls, booleans, fractions, and strings that
  // need escaping (quotes, backslashes, newlines, control and non-ASCII characters, a lone surrogate).
  const events: AuditEvent[] = [
    {
      event: 'peerauth.connection',
      decision: 'closed',
      auth: 'unix',
      remoteAddress: null,
      peerUid: 1000,
      peerGid: 1000,
      peerPid: 4242,
      username: 'alice',
      person: 'Alice "A" Liddell',
      role: 'admin',
      fallback: false,
      spiffeId: 'spiffe://example.org/uid-1000',
      reason: null,
      durationMs: 12.345,
      admissionMs: 0.021,
    },
    {
      event: 'peerauth.connection',
      decision: 'rejected',
      auth: 'x509-svid',
      remoteAddress: '[2001:db8::7]:51234',
      peerUid: null,
      peerGid: null,
      peerPid: null,
      username: null,
      person: null,
      role: null,
      fallback: null,
      spiffeId: null,
      reason: 'client certificate refused (bad \\ path\n"x"\u0001 é \ud800 ✓)',
      durationMs: null,
      admissionMs: null,
    },
    {
      event: 'peerauth.connection',
      decision: 'accepted',
      auth: 'unix',
      remoteAddress: null,
      peerUid: 0,
      peerGid: 0,
      peerPid: null,
      username: 'root',
      person: null,
      role: 'guest',
      fallback: true,
      spiffeId: 'spiffe://example.org/uid-0',
      reason: '',
      durationMs: 0,
      admissionMs: null,
    },
  ];

  it('is byte for byte the line pino writes for the same event', () => {
    const seen: string[] = [];
    const reference = pino(
      { base: { name: 'peerauth', pid: process.pid }, level: 'debug' },
      { write: (line: string) => seen.push(line) },
    );
    const bindings = String((reference as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym]);
    expect(bindings).toBe(`,"name":"peerauth","pid":${process.pid}`);
    const levels = ['info', 'warn', 'debug'] as const;
    for (const [i, event] of events.entries()) {
      const level = levels[i]!;
      reference[level](event, `peer connection ${event.decision}`);
      const pinoLine = seen.at(-1)!;
      const time = Number(/"time":(\d+)/.exec(pinoLine)?.[1]);
      expect(auditLine(level, time, bindings, event, `peer connection ${event.decision}`)).toBe(pinoLine);
    }
  });

  it('durations (whole µs, written from an integer) and remembered names are what pino writes, line after line', () => {
    const seen: string[] = [];
    const reference = pino({ base: { name: 'peerauth', pid: 1 } }, { write: (l: string) => seen.push(l) });
    const bindings = String((reference as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym]);
    const durations = [
      0,
      0.001,
      0.01,
      0.012,
      0.1,
      0.123,
      0.5,
      1,
      1.05,
      1.5,
      9.999,
      10.001,
      12.34,
      100.2,
      999.999,
      1000,
      123456.789,
      1073741.823,
      1073741.824,
      5e9 + 0.25,
      0.1234567,
      1e-7,
      -0,
      -2.5,
      1e21,
    ];
    // Names change between lines (and back, and to null): a remembered quote is never another line's.
    const names = ['alice', 'bob', 'alice', null, 'b\u00e9"\\', 'alice'];
    for (const [i, durationMs] of durations.entries()) {
      const username = names[i % names.length]!;
      const event = {
        ...events[0]!,
        username,
        person: username === null ? null : `${username} person`,
        role: i % 2 === 0 ? 'admin' : 'guest',
        spiffeId: username === null ? null : `spiffe://example.org/user/${username}`,
        durationMs,
        admissionMs: durations[durations.length - 1 - i]!,
      };
      reference.info(event, 'peer connection closed');
      const time = Number(/"time":(\d+)/.exec(seen.at(-1)!)?.[1]);
      expect(auditLine('info', time, bindings, event, 'peer connection closed')).toBe(seen.at(-1));
    }
  });

  it('a value pino writes as null (a number that is not finite) is null; a short lone surrogate stays exact', () => {
    const seen: string[] = [];
    const reference = pino({ base: { name: 'peerauth', pid: 1 } }, { write: (l: string) => seen.push(l) });
    const bindings = String((reference as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym]);
    const odd = { ...events[0]!, durationMs: Number.NaN, admissionMs: Number.POSITIVE_INFINITY };
    reference.info(odd, 'peer connection closed');
    const time = Number(/"time":(\d+)/.exec(seen[0]!)?.[1]);
    expect(auditLine('info', time, bindings, odd, 'peer connection closed')).toBe(seen[0]);
    // pino's short-string path writes a lone surrogate raw (UTF-8 then makes it U+FFFD); the direct line
    // escapes it, so the text read back is the text written.
    const surrogate = { ...events[0]!, person: 'x\ud800' };
    const line = auditLine('info', time, bindings, surrogate, 'peer connection closed');
    expect(line).toContain('"person":"x\\ud800"');
    expect(JSON.parse(Buffer.from(line).toString('utf8')).person).toBe('x\ud800');
  });

  it('audit lines carry bindings set later with setBindings, as pino’s own lines do', () => {
    const logger = createJsonLogger('info', 2);
    logger.setBindings({ service: 'billing' });
    const bindings = directLines(logger)?.bindings();
    expect(bindings).toBe(`,"name":"peerauth","pid":${process.pid},"service":"billing"`);
  });

  it('a logger from createJsonLogger takes the direct path; its child and any other logger do not', () => {
    const logger = createJsonLogger('info', 2);
    expect(directLines(logger)?.bindings()).toBe(`,"name":"peerauth","pid":${process.pid}`);
    expect(directLines(logger.child({ app: 'x' }))).toBeUndefined();
    expect(directLines(pino({ level: 'info' }, { write() {} }))).toBeUndefined();
  });

  it('a child process with a createJsonLogger writes one parseable closing line per connection, and honours a level changed later', async () => {
    const socketPath = path.join(dir, 'direct.sock');
    // The child reports each server-side close, and takes a new level on stdin, so the test knows which
    // connections closed before the change.
    const script = `
      import readline from 'node:readline';
      import { createPeerServer, createJsonLogger } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const logger = createJsonLogger('info');
      const server = createPeerServer({ path: ${JSON.stringify(socketPath)}, logger }, (s) => {
        s.on('close', () => console.log('closed'));
        s.end('x');
      });
      server.listen(() => console.log('ready'));
      readline.createInterface({ input: process.stdin }).on('line', (level) => {
        logger.level = level;
        console.log('level ' + level);
      }).on('close', () => server.close());`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const said = (text: string, times = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => stdout.split('\n').filter((l) => l === text).length >= times && resolve();
        child.stdout.on('data', check);
        child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
        check();
      });
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const connect = () =>
      new Promise<void>((resolve, reject) =>
        net
          .connect(socketPath)
          .on('error', reject)
          .on('close', () => resolve())
          .resume(),
      );
    await said('ready');
    await connect();
    await connect();
    await said('closed', 2);
    child.stdin.write('warn\n');
    await said('level warn');
    for (let i = 0; i < 3; i++) await connect();
    await said('closed', 5);
    child.stdin.end();
    await exited;
    const lines = stderr.split('\n').filter((l) => l.includes('peerauth.connection'));
    // Connections 1 and 2 closed at info; the other three after the level was raised to warn.
    expect(lines).toHaveLength(2);
    for (const line of lines)
      expect(JSON.parse(line)).toMatchObject({
        level: 30,
        name: 'peerauth',
        pid: child.pid,
        event: 'peerauth.connection',
        decision: 'closed',
        peerUid: process.getuid?.(),
        peerPid: process.pid,
        msg: 'peer connection closed',
      });
  });
});

it('a refusal’s audit line goes out at once, before the event loop turns again', async () => {
  const socketPath = path.join(dir, 'urgent.sock');
  const release = path.join(dir, 'urgent.release');
  // After the refusal the child blocks its event loop until the test creates `release`: a line still
  // waiting in the buffer for its flush timer could not reach stderr before then.
  const script = `
    import fs from 'node:fs';
    import { createPeerServer, createJsonLogger } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    const server = createPeerServer(
      { path: ${JSON.stringify(socketPath)}, logger: createJsonLogger('info'), allowRoles: [] },
      () => {},
    );
    server.on('rejected', () => {
      const until = Date.now() + 20000;
      while (!fs.existsSync(${JSON.stringify(release)}) && Date.now() < until) {}
      server.close();
    });
    server.listen(() => console.log('ready'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
    });
    net.connect(socketPath).on('error', () => {});
    await waitFor(() => stderr.includes('"peer connection rejected"'), 10_000);
    expect(JSON.parse(stderr.trim().split('\n').at(-1)!)).toMatchObject({
      level: 40,
      decision: 'rejected',
      reason: 'role "public" is not in allowRoles',
    });
  } finally {
    fs.writeFileSync(release, '');
    await exited;
  }
});
