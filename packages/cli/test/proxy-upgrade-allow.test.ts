// An upgrade hands the connection over to bytes the proxy never reads again, so it is forwarded only for
// protocols whose later bytes cannot carry identity headers: WebSocket by default. h2c is HTTP itself:
// after hypercorn's 101 the client writes HTTP/2 streams with its own x-peerauth-* headers and no stamps.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { type RunningCli, runCliToExit, startCli, tempDir } from './helpers.js';
import { statusLines } from './raw-client.js';
import { expectStamps, ownStamps } from './stamps.js';
import { describeWithTools, pythonWith } from './tools.js';
import { type RecordingUpstream, startHypercornUpstream, startNodeUpstream } from './upstreams.js';

const hypercorn = pythonWith('hypercorn', 'python3-hypercorn');

/** HPACK literal fields without indexing or Huffman: enough to write a request by hand. */
function hpack(fields: [string, string][]): Buffer {
  return Buffer.concat(
    fields.map(([n, v]) =>
      Buffer.concat([Buffer.from([0, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v)]),
    ),
  );
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** The client's own HTTP/2 request, for after a 101: preface, SETTINGS, HEADERS on stream 3. */
const SMUGGLED_H2 = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  frame(4, 0, 0, Buffer.alloc(0)),
  frame(
    1,
    0x5,
    3,
    hpack([
      [':method', 'GET'],
      [':path', '/smuggled'],
      [':scheme', 'http'],
      [':authority', 'x'],
      ['x-peerauth-user', 'mallory'],
      ['x-peerauth-role', 'admin'],
    ]),
  ),
]);

/** Sends an h2c upgrade request; after any 101, the client's own HTTP/2 request. Resolves with all it got. */
function h2cAttempt(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    let out = '';
    let sent = false;
    s.setEncoding('latin1');
    s.on('error', () => {});
    s.on('data', (d: string) => {
      out += d;
      if (!sent && out.startsWith('HTTP/1.1 101')) {
        sent = true;
        s.write(SMUGGLED_H2);
        setTimeout(() => s.destroy(), 500);
      }
    });
    s.on('close', () => resolve(out));
    s.write(request);
    setTimeout(() => s.destroy(), 5_000).unref();
  });
}

const H2C_GET =
  'GET /first HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n';

// The expected stamps carry the kernel's group list, read from /proc/self/status (Linux only).
describe.skipIf(!isLinux)('peerauth proxy: upgrades', () => {
  describeWithTools(
    'peerauth proxy: upgrades only for allowed protocols (hypercorn upstream)',
    [hypercorn],
    () => {
      let dir: string;
      let upstream: RecordingUpstream;
      let proxy: RunningCli;

      beforeAll(async () => {
        dir = tempDir('pa23u-');
        upstream = await startHypercornUpstream(hypercorn.command!);
        proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
      });
      afterAll(async () => {
        await proxy?.stop();
        await upstream?.close();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });

      it('h2c: no 101, the request goes up as HTTP/1.1 without Upgrade or HTTP2-Settings, nothing else runs', async () => {
        const before = upstream.seen.length;
        const out = await h2cAttempt(proxy.socket, H2C_GET);
        expect(statusLines(out)).toEqual(['200']);
        const seen = upstream.seen.slice(before);
        expect(seen.map((r) => r.path)).toEqual(['/first']);
        expectStamps(seen[0]!, ownStamps());
        const names = seen[0]!.headers.map(([n]) => n.toLowerCase());
        expect(names).not.toContain('upgrade');
        expect(names).not.toContain('http2-settings');
      });
    },
  );

  describe('peerauth proxy: --allow-upgrade', () => {
    it('refuses h2c and other HTTP versions as a protocol to allow (exit 2)', async () => {
      for (const value of ['h2c', 'websocket,HTTP/2.0']) {
        const r = await runCliToExit(['proxy', '--upstream', 'http://127.0.0.1:1', '--allow-upgrade', value]);
        expect(r.timedOut, r.stderr).toBeUndefined();
        expect(r.code, value).toBe(2);
        expect(r.stderr).toMatch(/--allow-upgrade: .* cannot be allowed/);
      }
    });

    it('h2c listed beside websocket: only websocket is offered upstream, without HTTP2-Settings', async () => {
      const dir = tempDir('pa23u-');
      const upstream = await startNodeUpstream({ socketPath: path.join(dir, 'up.sock') });
      const proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
      try {
        const out = await h2cAttempt(
          proxy.socket,
          H2C_GET.replace('Upgrade: h2c', 'Upgrade: h2c, WebSocket, h2c'),
        );
        expect(statusLines(out)).toEqual(['200']);
        expect(upstream.seen.map((r) => r.path)).toEqual(['/first']);
        const headers = upstream.seen[0]!.headers;
        expect(headers.filter(([n]) => n.toLowerCase() === 'upgrade').map(([, v]) => v)).toEqual([
          'WebSocket',
        ]);
        expect(headers.map(([n]) => n.toLowerCase())).not.toContain('http2-settings');
        expectStamps(upstream.seen[0]!, ownStamps());
      } finally {
        await proxy.stop();
        await upstream.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('an upstream that answers 101 to a request offering no upgrade gets a 502, not a tunnel', async () => {
      const dir = tempDir('pa23u-');
      // Answers 101 to anything, then would read whatever the client sends as its own protocol.
      const up = net.createServer((sock) => {
        sock.on('error', () => {});
        sock.once('data', () =>
          sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n'),
        );
      });
      await new Promise<void>((r) => up.listen(path.join(dir, 'up.sock'), () => r()));
      const proxy = await startCli(
        ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`],
        path.join(dir, 'p.sock'),
      );
      try {
        const out = await h2cAttempt(proxy.socket, H2C_GET);
        expect(statusLines(out)).toEqual(['502']);
      } finally {
        await proxy.stop();
        up.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a protocol the operator allows is upgraded; websocket then is not', async () => {
      const dir = tempDir('pa23u-');
      const up = http.createServer((_req, res) => res.end('plain'));
      up.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`,
        );
        socket.pipe(socket);
      });
      await new Promise<void>((r) => up.listen(path.join(dir, 'up.sock'), () => r()));
      const proxy = await startCli(
        ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`, '--allow-upgrade', 'echo'],
        path.join(dir, 'p.sock'),
      );
      try {
        const attempt = (protocol: string) =>
          new Promise<string>((resolve) => {
            const s = net.connect(proxy.socket);
            let out = '';
            s.setEncoding('latin1');
            s.on('data', (d: string) => {
              out += d;
              if (out.startsWith('HTTP/1.1 101') && out.includes('\r\n\r\n')) {
                s.write('ping');
                if (out.endsWith('ping')) s.destroy();
              }
            });
            s.on('close', () => resolve(out));
            s.write(`GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
            setTimeout(() => s.destroy(), 5_000).unref();
          });
        const echo = await attempt('echo');
        expect(statusLines(echo)).toEqual(['101']);
        expect(echo.endsWith('ping')).toBe(true);
        const ws = await attempt('websocket');
        expect(statusLines(ws)).toEqual(['200']);
        expect(ws.endsWith('plain')).toBe(true);
      } finally {
        await proxy.stop();
        up.closeAllConnections();
        up.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
