// An upstream may close an idle keep-alive connection just as the proxy sends the next request on it
// (lighttpd, for one, under load): that request gets no answer at all. For a request that is safe to send
// twice (GET, HEAD, OPTIONS, no body) the proxy sends it once more on a fresh connection, as node:http's
// documentation and nginx do; anything else still gets its 502.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir } from './helpers.js';

/** Answers the first request of each connection (keep-alive), then drops the connection at the next one. */
function startDroppingUpstream(socketPath: string): Promise<{ server: net.Server; seen: string[] }> {
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let answered = false;
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d;
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const line = buffered.slice(0, buffered.indexOf('\r\n'));
      buffered = buffered.slice(end + 4);
      if (answered) {
        socket.destroy();
        return;
      }
      answered = true;
      seen.push(line);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
    });
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve({ server, seen })));
}

function request(socketPath: string, agent: http.Agent, method: string, urlPath: string) {
  return new Promise<number>((resolve, reject) => {
    const req = http.request({ socketPath, agent, method, path: urlPath }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('peerauth proxy: an upstream that closes a reused connection', () => {
  let dir: string;
  let upstream: { server: net.Server; seen: string[] };
  let proxy: RunningCli;

  beforeAll(async () => {
    dir = tempDir('pa23k-');
    upstream = await startDroppingUpstream(path.join(dir, 'up.sock'));
    proxy = await startCli(
      ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`],
      path.join(dir, 'p.sock'),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await new Promise((r) => upstream?.server.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a GET sent on a connection the upstream dropped is sent again on a fresh one', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await request(proxy.socket, agent, 'GET', '/one')).toBe(200);
      expect(await request(proxy.socket, agent, 'GET', '/two')).toBe(200);
      expect(upstream.seen).toEqual(['GET /one HTTP/1.1', 'GET /two HTTP/1.1']);
    } finally {
      agent.destroy();
    }
  });

  it('a DELETE is not sent twice: the client gets the 502', async () => {
    upstream.seen.length = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await request(proxy.socket, agent, 'GET', '/three')).toBe(200);
      expect(await request(proxy.socket, agent, 'DELETE', '/four')).toBe(502);
      expect(upstream.seen).toEqual(['GET /three HTTP/1.1']);
    } finally {
      agent.destroy();
    }
  });
});
