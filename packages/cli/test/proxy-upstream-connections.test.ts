// One client connection holds at most one upstream connection at a time: pipelined requests wait their
// turn on it instead of each opening a socket of its own (a client could otherwise spend the proxy's
// descriptors), and a request queued behind a body request that closes its connection still arrives, on a
// fresh one.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';

interface CountingUpstream {
  server: http.Server;
  /** Request lines in arrival order. */
  seen: string[];
  /** The most upstream connections open at once, and the most requests unanswered at once. */
  maxOpen: number;
  maxInFlight: number;
  reset(): void;
}

/** A keep-alive node:http upstream that answers each request after a short delay and counts. */
function startCountingUpstream(socketPath: string): Promise<CountingUpstream> {
  let open = 0;
  let inFlight = 0;
  const up: CountingUpstream = {
    server: http.createServer((req, res) => {
      up.seen.push(`${req.method} ${req.url}`);
      inFlight++;
      up.maxInFlight = Math.max(up.maxInFlight, inFlight);
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          inFlight--;
          res.end(`answer to ${req.url}`);
        }, 30),
      );
    }),
    seen: [],
    maxOpen: 0,
    maxInFlight: 0,
    reset() {
      up.seen.length = 0;
      up.maxOpen = 0;
      up.maxInFlight = 0;
    },
  };
  up.server.on('connection', (socket: net.Socket) => {
    open++;
    up.maxOpen = Math.max(up.maxOpen, open);
    socket.on('close', () => open--);
  });
  return new Promise((resolve) => up.server.listen(socketPath, () => resolve(up)));
}

describe('peerauth proxy: upstream connections per client connection', () => {
  let dir: string;
  let upstream: CountingUpstream;
  let proxy: RunningCli;

  beforeAll(async () => {
    dir = tempDir('pa29c-');
    upstream = await startCountingUpstream(path.join(dir, 'up.sock'));
    proxy = await startCli(
      ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`],
      path.join(dir, 'p.sock'),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    upstream?.server.closeAllConnections();
    await new Promise((r) => upstream?.server.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('12 pipelined GETs: answered in order over one upstream connection, one request at a time', async () => {
    upstream.reset();
    const n = 12;
    let bytes = '';
    for (let i = 0; i < n; i++)
      bytes += `GET /p/${i} HTTP/1.1\r\nHost: x\r\n${i === n - 1 ? 'Connection: close\r\n' : ''}\r\n`;
    const answer = await exchange(proxy.socket, bytes);
    expect(statusLines(answer)).toEqual(Array(n).fill('200'));
    expect([...answer.matchAll(/answer to (\/p\/\d+)/g)].map((m) => m[1])).toEqual(
      Array.from({ length: n }, (_, i) => `/p/${i}`),
    );
    expect(upstream.seen).toEqual(Array.from({ length: n }, (_, i) => `GET /p/${i}`));
    expect(upstream.maxOpen).toBe(1);
    expect(upstream.maxInFlight).toBe(1);
  });

  it('a request queued behind a body request that closes its connection arrives on a fresh one', async () => {
    upstream.reset();
    const answer = await exchange(
      proxy.socket,
      'GET /m/0 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /m/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' +
        'GET /m/2 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    // The client asked to close after the POST: the proxy answers it and closes, as nginx does.
    expect(statusLines(answer)).toEqual(['200', '200']);
    expect(upstream.seen).toEqual(['GET /m/0', 'POST /m/1']);
    upstream.reset();
    const more = await exchange(
      proxy.socket,
      'GET /n/0 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /n/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /n/2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'PUT /n/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
        'GET /n/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusLines(more)).toEqual(['200', '200', '200', '200', '200']);
    expect(upstream.seen).toEqual(['GET /n/0', 'POST /n/1', 'GET /n/2', 'PUT /n/3', 'GET /n/4']);
    expect(upstream.maxInFlight).toBe(1);
  });

  it('OPTIONS * (a target that is not a path) goes upstream as sent, between bodiless requests', async () => {
    upstream.reset();
    const answer = await exchange(
      proxy.socket,
      'GET /o/0 HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /o/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusLines(answer)).toEqual(['200', '200', '200']);
    expect(upstream.seen).toEqual(['GET /o/0', 'OPTIONS *', 'GET /o/1']);
    expect(upstream.maxInFlight).toBe(1);
  });

  it('after an answer that ends the client connection, what the client pipelined is never forwarded', async () => {
    upstream.reset();
    // node:http answers HEAD without a length, so the HTTP/1.0 client's keep-alive connection cannot go on.
    const answer = await exchange(
      proxy.socket,
      'HEAD /h/0 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n' +
        'GET /h/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /h/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusLines(answer)).toEqual(['200']);
    // A later request on a fresh connection, as a marker: once it arrived, so would have the others.
    await exchange(proxy.socket, 'GET /h/marker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(upstream.seen).toEqual(['HEAD /h/0', 'GET /h/marker']);
  });

  it('a body that breaks while its request waits for its turn: not even the head goes upstream', async () => {
    upstream.reset();
    // The client keeps its side open, so the proxy's connection lives on after the refusal.
    const sock = net.connect({ path: proxy.socket, allowHalfOpen: true });
    sock.on('error', () => {});
    let answer = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      answer += d;
    });
    const ended = new Promise((r) => sock.once('end', r));
    sock.write(
      'GET /w/0 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /w/broken HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ;ext\r\nhello\r\n0\r\n\r\n',
    );
    await ended;
    expect(statusLines(answer)).toEqual(['200', '400']);
    // Time for the broken request's turn to come, had it one.
    await exchange(proxy.socket, 'GET /w/between HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    sock.destroy();
    // A later request on a fresh connection, as a marker: once it arrived, so would have the broken one.
    await exchange(proxy.socket, 'GET /w/marker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(upstream.seen).toEqual(['GET /w/0', 'GET /w/between', 'GET /w/marker']);
  });
});
