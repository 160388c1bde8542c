// A POST, PUT or PATCH without a body goes upstream without one. node:http's client frames such a request
// chunked by default and sends an empty last chunk (`0\r\n\r\n`); an upstream that does not read a body it
// did not expect (Python's http.server handlers, werkzeug) parses those bytes as its next request and
// answers it, and after an upgrade they would be the first bytes of the tunnel.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { startByteUpstream } from './upstreams.js';

/** Answers each request head with a fixed 200 (or 101 for an upgrade). */
function headAnswer(pending: string): string | null {
  if (!pending.includes('\r\n\r\n')) return null;
  if (/\r\nUpgrade: /i.test(pending))
    return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
  return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
}

describe('peerauth proxy: a request without a body goes upstream without one', () => {
  let dir: string;
  let upstream: { server: net.Server; received: () => string };
  let proxy: RunningCli;
  beforeAll(async () => {
    dir = tempDir('pa23e-');
    upstream = await startByteUpstream(path.join(dir, 'up.sock'), headAnswer);
    proxy = await startCli(
      ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`],
      path.join(dir, 'p.sock'),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    upstream?.server.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const method of ['POST', 'PUT', 'PATCH']) {
    it(`${method}: Content-Length: 0, no chunk after the head`, async () => {
      const before = upstream.received().length;
      const answer = await exchange(
        proxy.socket,
        `${method} /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(statusLines(answer)).toEqual(['200']);
      const sent = upstream.received().slice(before);
      // undici writes the framing it states itself as `content-length` (names are case-insensitive).
      expect(sent).toMatch(/\r\nContent-Length: 0\r\n/i);
      expect(sent).not.toMatch(/Transfer-Encoding/i);
      expect(sent.endsWith('\r\n\r\n')).toBe(true);
    });
  }

  it('an upgrade POST: the tunnel carries only what the client sends', async () => {
    const before = upstream.received().length;
    const sock = net.connect(proxy.socket);
    sock.on('error', () => {});
    let out = '';
    sock.on('data', (d) => {
      out += d;
    });
    sock.write('POST /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await waitFor(() => out.includes('101'));
    sock.write('client-bytes');
    await waitFor(() => upstream.received().includes('client-bytes'));
    sock.destroy();
    const sent = upstream.received().slice(before);
    expect(sent.slice(sent.indexOf('\r\n\r\n') + 4)).toBe('client-bytes');
  });
});
