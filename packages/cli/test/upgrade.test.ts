import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir } from './helpers.js';

/**
 * An upstream on a Unix socket that accepts an HTTP upgrade, reports the role header it got, then echoes
 * bytes; and answers plain (non-HTTP) connections by echoing too, for --raw.
 */
function startUpgradeUpstream(socketPath: string): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n' +
        `X-Seen-Role: ${req.headers['x-peerauth-role']}\r\nX-Seen-Count: ${req.rawHeaders.filter((h) => h.toLowerCase() === 'x-peerauth-role').length}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve(server)));
}

describe('peerauth proxy: upgrades and --raw', () => {
  let dir: string;
  let upstream: http.Server;
  let proxy: RunningCli;
  let raw: RunningCli;
  let echoServer: net.Server;

  beforeAll(async () => {
    dir = tempDir();
    upstream = await startUpgradeUpstream(path.join(dir, 'up.sock'));
    echoServer = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echoServer.listen(path.join(dir, 'echo.sock'), () => r()));
    // "echo" is this test's own protocol: not websocket, so the operator allows it.
    proxy = await startCli(
      ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`, '--allow-upgrade', 'echo'],
      path.join(dir, 'p.sock'),
    );
    raw = await startCli(
      ['proxy', '--raw', '--upstream', `unix:${path.join(dir, 'echo.sock')}`],
      path.join(dir, 'r.sock'),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await raw?.stop();
    upstream.closeAllConnections();
    upstream.close();
    echoServer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('forwards an HTTP upgrade with the true identity headers, then bytes both ways', async () => {
    const { res, socket } = await new Promise<{ res: http.IncomingMessage; socket: net.Socket }>(
      (resolve, reject) => {
        const req = http.request({
          socketPath: proxy.socket,
          path: '/ws',
          headers: { connection: 'Upgrade', upgrade: 'echo', 'x-peerauth-role': 'admin' },
        });
        req.on('upgrade', (res, socket) => resolve({ res, socket }));
        req.on('error', reject);
        req.end();
      },
    );
    expect(res.statusCode).toBe(101);
    expect(res.headers['x-seen-role']).toBe('owner');
    expect(res.headers['x-seen-count']).toBe('1');
    socket.write('ping through the tunnel');
    const echoed = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(String(d))));
    expect(echoed).toBe('ping through the tunnel');
    socket.destroy();
  });

  it('--raw passes bytes unchanged after the policy check', async () => {
    const payload = Buffer.from([0, 1, 2, 255, 13, 10, 71, 69, 84]);
    const sock = net.connect(raw.socket);
    sock.write(payload);
    const got = await new Promise<Buffer>((resolve) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= payload.length) resolve(buf);
      });
    });
    expect(got.equals(payload)).toBe(true);
    sock.destroy();
  });
});
