// Requests pipelined before one that ends the connection (an upgrade, a refusal, a parse error, data after
// an HTTP/1.0 request that closes) get their answers first, in order, as nginx and Go's ReverseProxy give
// them; then the upgrade or the refusal, then the close. The slow upstream path makes the earlier answers
// still be in flight when the later request arrives.
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { type RecordingUpstream, startNodeUpstream } from './upstreams.js';

const SLOW_MS = 300;

/** Answers /slow/* after SLOW_MS, the rest at once; a websocket upgrade is answered 101 and echoed. */
async function startSlowUpstream(socketPath: string): Promise<RecordingUpstream & { server: http.Server }> {
  const up = await startNodeUpstream({
    socketPath,
    onRequest: (req, res) => {
      if (!req.url?.startsWith('/slow')) return false;
      setTimeout(() => res.end(`answer to ${req.url}`), SLOW_MS);
      return true;
    },
  });
  up.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    up.seen.push({ method: req.method ?? '', path: req.url ?? '', headers: [], bodyLength: 0 });
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  return up;
}

/** Writes bytes and collects what comes back until `done(output)` or the proxy closes the connection. */
function converse(
  socketPath: string,
  bytes: string,
  done: (out: string) => boolean = () => false,
): Promise<{ out: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let out = '';
    let closed = false;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      out += d;
      if (done(out)) sock.destroy();
    });
    sock.on('error', reject);
    sock.on('end', () => {
      closed = true;
    });
    sock.on('close', () => resolve({ out, closed }));
    sock.write(bytes, 'latin1');
    // A failure guard only.
    setTimeout(() => sock.destroy(), 15_000).unref();
  });
}

describe('peerauth proxy: answers to requests pipelined before the connection ends', () => {
  let dir: string;
  let upstream: RecordingUpstream & { server: http.Server };
  let proxy: RunningCli;
  beforeAll(async () => {
    dir = tempDir('pa23p-');
    upstream = await startSlowUpstream(path.join(dir, 'up.sock'));
    proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('before an upgrade: the earlier answer, then the 101, then the tunnel', async () => {
    const { out } = await converse(
      proxy.socket,
      'GET /slow/1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nping-through',
      (o) => o.includes('ping-through'),
    );
    expect(statusLines(out)).toEqual(['200', '101']);
    const answer = out.indexOf('answer to /slow/1');
    expect(answer).toBeGreaterThan(-1);
    expect(out.indexOf('HTTP/1.1 101')).toBeGreaterThan(answer);
    expect(out.indexOf('ping-through')).toBeGreaterThan(out.indexOf('HTTP/1.1 101'));
    expect(proxy.child.exitCode).toBeNull();
  });

  it('before an upgrade refused for its body: the earlier answer, then the 400, then the close', async () => {
    const { out, closed } = await converse(
      proxy.socket,
      'GET /slow/2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /ws2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    expect(statusLines(out)).toEqual(['200', '400']);
    expect(out).toContain('answer to /slow/2');
    expect(out).toContain('an upgrade request may not carry a body');
    expect(closed).toBe(true);
    expect(upstream.seen.some((s) => s.path === '/ws2')).toBe(false);
  });

  it('before a request refused for its framing: the earlier answers, then the 400, then the close', async () => {
    const { out, closed } = await converse(
      proxy.socket,
      'GET /slow/3 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast/3 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
    );
    expect(statusLines(out)).toEqual(['200', '200', '400']);
    expect(out.indexOf('answer to /slow/3')).toBeLessThan(out.indexOf('"/fast/3"'));
    expect(closed).toBe(true);
  });

  it('before an unparseable request (Content-Length and chunked): the earlier answer, then the 400', async () => {
    const { out, closed } = await converse(
      proxy.socket,
      'GET /slow/4 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /both HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    expect(statusLines(out)).toEqual(['200', '400']);
    expect(out).toContain('answer to /slow/4');
    expect(closed).toBe(true);
    expect(upstream.seen.some((s) => s.path === '/both')).toBe(false);
  });

  it('before a body that turns unparseable (a chunk size "5 ;ext"): the earlier answer, then the 400', async () => {
    const { out, closed } = await converse(
      proxy.socket,
      'GET /slow/5 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /badchunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ;ext\r\nhello\r\n0\r\n\r\n' +
        'GET /after HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statusLines(out)).toEqual(['200', '400']);
    expect(out).toContain('answer to /slow/5');
    expect(closed).toBe(true);
    // The broken request never completes upstream, and nothing after it is read as a request.
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.seen.some((s) => s.path === '/badchunk' || s.path === '/after')).toBe(false);
  });

  it('HTTP/1.0 without keep-alive, then trailing bytes: the first request is answered, the rest ignored', async () => {
    const answer = await exchange(
      proxy.socket,
      'GET /slow/6 HTTP/1.0\r\nHost: x\r\n\r\nGET /trailing HTTP/1.1\r\nHost: x\r\nX-Peerauth-Uid: 0\r\n\r\n',
    );
    expect(statusLines(answer)).toEqual(['200']);
    expect(answer).toContain('answer to /slow/6');
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.seen.some((s) => s.path === '/trailing')).toBe(false);
  });

  it('HTTP/1.0 without keep-alive, answered at once, then garbage: the answer arrives whole', async () => {
    const answer = await exchange(proxy.socket, 'GET /fast/7 HTTP/1.0\r\nHost: x\r\n\r\n\x00\x01garbage');
    expect(statusLines(answer)).toEqual(['200']);
    expect(answer).toContain('"/fast/7"');
  });

  it('the proxy still serves after all of this', async () => {
    await waitFor(() => upstream.seen.some((s) => s.path === '/ws'));
    const answer = await exchange(
      proxy.socket,
      'GET /fast/8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusLines(answer)).toEqual(['200']);
    expect(proxy.child.exitCode).toBeNull();
  });
});
