import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { describeAsRoot, isLinux } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  type TestUser,
} from '../../../test-fixtures/users.js';
import { run, startCli, tempDir, waitFor } from './helpers.js';
import { exchange, openRaw, type RawClient, statusLines } from './raw-client.js';
import { expectStamps, ownStamps, stampsFor } from './stamps.js';
import { type RecordingUpstream, startNodeUpstream, startPythonUpstream } from './upstreams.js';

const GROUP = 'pa10p-smug';
const USER = 'pa10p-smug';

const FORGED =
  'X-Peerauth-Uid: 4242\r\nX-Peerauth-Role: admin\r\nX_Peerauth_User: mallory\r\nX-Forwarded-User: mallory\r\n';
const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: x\r\n${FORGED}\r\n`;

describeAsRoot('peerauth proxy: request smuggling', () => {
  let dir: string;
  let attacker: TestUser;
  let upstream: RecordingUpstream;
  let proxySocket: string;
  let stopProxy: () => Promise<unknown>;

  beforeAll(async () => {
    removeTestUser(USER);
    removeTestGroup(GROUP);
    createTestGroup(GROUP, 44000);
    attacker = createTestUser(USER, { uid: 44001, gid: 44000 });
    dir = tempDir('pa10p-');
    upstream = await startNodeUpstream();
    const cli = await startCli(
      ['proxy', '--mode', '0666', '--upstream', upstream.url],
      path.join(dir, 'p.sock'),
    );
    proxySocket = cli.socket;
    stopProxy = () => cli.stop();
  });
  afterAll(async () => {
    await stopProxy?.();
    await upstream?.close();
    removeTestUser(USER);
    removeTestGroup(GROUP);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const attackerStamps = () => stampsFor({ ...attacker, username: USER });

  it('victim/attacker: an unfinished request in a body is never completed by another user', async () => {
    upstream.seen.length = 0;
    const tail = 'POST /s/hijack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Ignore: ';
    const c = openRaw(proxySocket, attacker);
    c.write(
      `GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `${tail.length.toString(16)}\r\n${tail}\r\n0\r\n\r\n`,
    );
    await c.closed;
    const victim = await run('curl', ['-sS', '--unix-socket', proxySocket, 'http://localhost/victim']);
    expect(victim.stdout).toContain('"/victim"');
    expect(upstream.seen.map((r) => r.path)).not.toContain('/s/hijack');
    for (const r of upstream.seen) {
      expectStamps(r, r.path === '/victim' ? ownStamps() : attackerStamps());
    }
  });

  it('the same with a framed POST body: it reaches the upstream only as a body', async () => {
    upstream.seen.length = 0;
    const tail = 'POST /s/hijack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Ignore: ';
    const c = openRaw(proxySocket, attacker);
    c.write(
      `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${tail.length}\r\nConnection: close\r\n\r\n${tail}`,
    );
    await c.closed;
    expect(statusLines(c.output())).toEqual(['200']);
    const victim = await run('curl', ['-sS', '--unix-socket', proxySocket, 'http://localhost/victim']);
    expect(victim.stdout).toContain('"/victim"');
    expect(upstream.seen.map((r) => [r.path, r.bodyLength])).toEqual([
      ['/upload', tail.length],
      ['/victim', 0],
    ]);
    expectStamps(upstream.seen[0]!, attackerStamps());
    expectStamps(upstream.seen[1]!, ownStamps());
  });

  const methods = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'POST', 'PUT', 'PATCH'];
  const framings = ['chunked', 'content-length', 'none'] as const;

  it('victim/attacker over every method × framing × HTTP version: no attacker request runs as the victim', async () => {
    upstream.seen.length = 0;
    const tail = 'POST /s/hijack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Ignore: ';
    const attacks: RawClient[] = [];
    for (const method of methods)
      for (const framing of framings)
        for (const version of ['1.0', '1.1']) {
          let head = `${method} /a HTTP/${version}\r\nHost: x\r\nConnection: close\r\n`;
          let body = tail;
          if (framing === 'chunked') {
            head += 'Transfer-Encoding: chunked\r\n';
            body = `${tail.length.toString(16)}\r\n${tail}\r\n0\r\n\r\n`;
          } else if (framing === 'content-length') head += `Content-Length: ${tail.length}\r\n`;
          const c = openRaw(proxySocket, attacker);
          c.write(`${head}\r\n${body}`);
          attacks.push(c);
        }
    // A failure guard: an attack the proxy keeps waiting on (an unframed tail) is cut here.
    const guard = setTimeout(() => {
      for (const c of attacks) c.kill();
    }, 10_000);
    await Promise.all(attacks.map((c) => c.closed));
    clearTimeout(guard);
    for (let i = 0; i < 8; i++) {
      const victim = await run('curl', ['-sS', '--unix-socket', proxySocket, `http://localhost/victim${i}`]);
      expect(victim.stdout).toContain(`"/victim${i}"`);
    }
    expect(upstream.seen.map((r) => r.path)).not.toContain('/s/hijack');
    for (const r of upstream.seen)
      expectStamps(r, r.path.startsWith('/victim') ? ownStamps() : attackerStamps());
  });

  for (const version of ['1.0', '1.1']) {
    for (const framing of framings) {
      it(`every method, body framed by ${framing}, HTTP/${version}, pipelined: no smuggled request`, async () => {
        for (const method of methods) {
          upstream.seen.length = 0;
          let head = `${method} /first HTTP/${version}\r\nHost: x\r\n${version === '1.0' ? 'Connection: keep-alive\r\n' : ''}`;
          let body = SMUGGLED;
          if (framing === 'chunked') {
            head += 'Transfer-Encoding: chunked\r\n';
            body = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
          } else if (framing === 'content-length') {
            head += `Content-Length: ${SMUGGLED.length}\r\n`;
          }
          const last = 'GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
          const answer = await exchange(proxySocket, `${head}${FORGED}\r\n${body}${last}`);
          expect(statusLines(answer).length, `${method}: ${answer}`).toBeGreaterThan(0);
          for (const r of upstream.seen) expectStamps(r, ownStamps());
          // Without framing, the "body" is the client's own next request, filtered and stamped like any.
          if (framing !== 'none')
            expect(
              upstream.seen.map((r) => r.path),
              method,
            ).not.toContain('/smuggled');
        }
      });
    }
  }

  for (const [what, many] of [
    // 1000 empty headers once pushed every stamp past node:http's maxHeadersCount.
    ['with more than 100 headers', 'a:\r\n'.repeat(1000)],
    // 95 of its own: within the limit as sent, over it with the identity headers added.
    ['that would reach the upstream with more than 100 headers', 'a: 1\r\n'.repeat(93)],
  ]) {
    it(`a request ${what} gets 431 and never reaches the upstream`, async () => {
      upstream.seen.length = 0;
      const answer = await exchange(
        proxySocket,
        `GET /many HTTP/1.1\r\nHost: x\r\n${many}Connection: close\r\n\r\n`,
      );
      expect(statusLines(answer)).toEqual(['431']);
      expect(upstream.seen).toEqual([]);
    });
  }

  // The rule is "identity headers first after Host" (and the proxy's own Connection): undici writes both
  // first, as nginx and Go's ReverseProxy put Host first; the stamps stay far inside any 100-field cap.
  it('with 80 client headers the identity headers come first after Host', async () => {
    upstream.seen.length = 0;
    const many = 'a: 1\r\n'.repeat(80);
    const answer = await exchange(
      proxySocket,
      `GET /some HTTP/1.1\r\nHost: x\r\n${many}${FORGED}Connection: close\r\n\r\n`,
    );
    expect(statusLines(answer)).toEqual(['200']);
    const [req] = upstream.seen;
    expectStamps(req!, ownStamps());
    const first = req!.headers.findIndex(([name]) => /^x-peerauth-/i.test(name));
    // Before the stamps only the client's Host and the proxy's own Connection (not the client's close).
    expect(req!.headers.slice(0, first).map(([n, v]) => `${n.toLowerCase()}: ${v}`)).toEqual([
      'host: x',
      'connection: keep-alive',
    ]);
  });
});

// The expected stamps carry the kernel's group list, read from /proc/self/status (Linux only).
describe.skipIf(!isLinux)('peerauth proxy: upstream connections after an early response', () => {
  it('an upstream that answers before reading the body never gets that connection again', async () => {
    const dir = tempDir('pa10p-');
    // http.server answers /early without reading its body and keeps the connection: reused, the body
    // would be parsed as the start of the next request.
    const upstream = await startPythonUpstream('httpserver');
    const cli = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
    try {
      const sock = net.connect(cli.socket);
      let out = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        out += d;
      });
      sock.write('POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
      await waitFor(() => statusLines(out).length === 1);
      // The body comes only after the upstream answered.
      sock.write('POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n');
      await waitFor(() => statusLines(out).length === 2);
      sock.write('hello');
      sock.write('POST /next HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      await new Promise((r) => sock.on('close', r));
      expect(statusLines(out), out).toEqual(['200', '200', '200']);
      expect(upstream.seen.map((r) => r.path)).toEqual(['/first', '/early', '/next']);
      for (const r of upstream.seen) expectStamps(r, ownStamps());
    } finally {
      await cli.stop();
      await upstream.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeAsRoot('peerauth proxy: Upgrade goes raw only after 101', () => {
  let dir: string;
  let attacker: TestUser;

  beforeAll(() => {
    removeTestUser(`${USER}u`);
    removeTestGroup(`${GROUP}u`);
    createTestGroup(`${GROUP}u`, 44003);
    attacker = createTestUser(`${USER}u`, { uid: 44004, gid: 44003 });
    dir = tempDir('pa10p-');
  });
  afterAll(() => {
    removeTestUser(`${USER}u`);
    removeTestGroup(`${GROUP}u`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function smuggleAfterUpgrade(upstream: RecordingUpstream, upgradeRequest: string): Promise<string> {
    const cli = await startCli(
      ['proxy', '--mode', '0666', '--upstream', upstream.url],
      path.join(dir, `p${Math.random().toString(36).slice(2)}.sock`),
    );
    try {
      const c = openRaw(cli.socket, attacker);
      c.write(upgradeRequest);
      await waitFor(() => statusLines(c.output()).length >= 1 || c.exited);
      c.write(
        'GET /second HTTP/1.1\r\nHost: x\r\nX-Peerauth-Role: owner\r\nX-Peerauth-Uid: 0\r\nConnection: close\r\n\r\n',
      );
      await c.closed;
      const stamps = stampsFor({ ...attacker, username: `${USER}u` });
      for (const r of upstream.seen) expectStamps(r, stamps);
      return c.output();
    } finally {
      await cli.stop();
    }
  }

  const websocketUpgrade = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const h2cUpgrade =
    'POST /h2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 0\r\n\r\n';

  for (const [name, request] of [
    ['websocket', websocketUpgrade],
    ['h2c', h2cUpgrade],
  ] as const) {
    it(`${name}: a node:http upstream without an 'upgrade' listener answers 200; the next request is stamped`, async () => {
      const upstream = await startNodeUpstream();
      try {
        const out = await smuggleAfterUpgrade(upstream, request);
        expect(statusLines(out)[0]).toBe('200');
      } finally {
        await upstream.close();
      }
    });

    it(`${name}: an upstream answering 400 to the upgrade; the next request is stamped`, async () => {
      const upstream = await startNodeUpstream({
        onRequest: (req, res) => {
          if (!req.headers.upgrade) return false;
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end('no upgrade here');
          return true;
        },
      });
      try {
        const out = await smuggleAfterUpgrade(upstream, request);
        // h2c is never offered upstream: the upstream sees an ordinary request and answers it.
        expect(statusLines(out)[0]).toBe(name === 'h2c' ? '200' : '400');
      } finally {
        await upstream.close();
      }
    });
  }

  it('a real websocket upstream (ws) accepts the upgrade and sees only the true identity', async () => {
    const upstream = await startNodeUpstream({ socketPath: path.join(dir, 'ws-up.sock') });
    const wss = new WebSocketServer({ server: upstream.server });
    const handshakes: string[][] = [];
    wss.on('connection', (ws, req) => {
      handshakes.push(req.rawHeaders);
      ws.on('message', (data) => ws.send(`echo:${String(data)}`));
    });
    const cli = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'ws.sock'));
    try {
      const ws = new WebSocket(`ws+unix://${cli.socket}:/chat`, {
        headers: { 'X-Peerauth-Role': 'admin', X_Peerauth_Uid: '4242' },
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send('hello');
      const reply = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
      expect(reply).toBe('echo:hello');
      ws.close();
      expect(handshakes).toHaveLength(1);
      const headers: [string, string][] = [];
      for (let i = 0; i < handshakes[0]!.length; i += 2)
        headers.push([handshakes[0]![i]!, handshakes[0]![i + 1]!]);
      expectStamps({ method: 'GET', path: '/chat', headers, bodyLength: 0 }, ownStamps());
    } finally {
      await cli.stop();
      wss.close();
      await upstream.close();
    }
  });
});
