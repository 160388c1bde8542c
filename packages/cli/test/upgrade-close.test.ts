import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * A client that keeps its sending side open and does not read until told to: after the upgrade hand-off no
 * HTTP server timeout applies, so only the proxy itself can release the connection.
 */
async function stubbornClient(
  socketPath: string,
  request: string,
): Promise<{ readAll: () => Promise<string>; destroy: () => void }> {
  const sock = net.connect({ path: socketPath, allowHalfOpen: true });
  sock.pause();
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(request);
  return {
    readAll: () =>
      new Promise((resolve) => {
        let out = '';
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => {
          out += d;
        });
        sock.once('end', () => resolve(out));
        sock.resume();
      }),
    destroy: () => sock.destroy(),
  };
}

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';

// Counts the proxy's open descriptors in /proc/PID/fd, which only Linux has.
describe.skipIf(!isLinux)('peerauth proxy: a connection handed off for an upgrade is always released', () => {
  let dir: string;
  let upstream: http.Server;
  let proxy: RunningCli;
  let baseline: number;

  beforeAll(async () => {
    dir = tempDir('pa10f-');
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    upstream.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      if (req.url === '/accept-then-leave') {
        socket.end(
          'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nbye',
        );
        return;
      }
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\nConnection: close\r\n\r\nrefused');
    });
    await new Promise<void>((r) => upstream.listen(path.join(dir, 'up.sock'), () => r()));
    proxy = await startCli(
      ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`],
      path.join(dir, 'p.sock'),
    );
    // One full exchange first, so whatever the proxy opens lazily is counted in the baseline.
    const warm = await stubbornClient(proxy.socket, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await warm.readAll();
    warm.destroy();
    // The proxy closes its side of the warm-up right after the client sees the end: wait until it settled.
    let last = -1;
    await waitFor(() => {
      const now = openFds(proxy.child.pid!);
      const settled = now === last;
      last = now;
      return settled;
    });
    baseline = last;
  });
  afterAll(async () => {
    await proxy?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, string, RegExp][] = [
    ['the upstream refuses the upgrade (400)', UPGRADE, /^HTTP\/1\.1 400 [\s\S]*refused$/],
    [
      'the proxy refuses the upgrade (a body)',
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc',
      /^HTTP\/1\.1 400 /,
    ],
    [
      'the upstream accepts, then goes away',
      UPGRADE.replace('/ws', '/accept-then-leave'),
      /^HTTP\/1\.1 101 [\s\S]*bye$/,
    ],
  ];

  for (const [name, request, answer] of cases) {
    it(`${name}: the proxy closes its socket though the client never does`, async () => {
      const client = await stubbornClient(proxy.socket, request);
      try {
        // Generous failure guard; the proxy should let go as soon as its answer is flushed.
        await waitFor(() => openFds(proxy.child.pid!) <= baseline, 20_000);
        expect(await client.readAll()).toMatch(answer);
      } finally {
        client.destroy();
      }
    }, 30_000);
  }
});
