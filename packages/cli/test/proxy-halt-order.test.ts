// A request the proxy answers with an error (a refusal, an upstream failure) ends the client connection, and
// nothing pipelined after it may reach the upstream. Two guards in upstream-dispatch.ts keep it so, and these
// tests fail only when both are gone: onError halts the connection (cb.refused / cb.failed) before the turn
// ends (cb.done, which starts the next queued request at once), and onConnect, the last moment before undici
// writes a request, drops it when the connection is halted. With the undici this package depends on, the
// second alone suffices (measured when the test was written): it writes on a reused connection only after a
// setImmediate (its idle-socket check) and on a new one only once connected, so by then the connection is
// halted even with cb.done() called first.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { type RecordingUpstream, startNodeUpstream } from './upstreams.js';

describe('peerauth proxy: nothing pipelined after an error answer reaches the upstream', () => {
  let dir: string;
  let upstream: RecordingUpstream & { server: http.Server };
  let proxy: RunningCli;
  let socket: string;
  beforeAll(async () => {
    dir = tempDir('pahalt-');
    upstream = await startNodeUpstream({
      socketPath: path.join(dir, 'up.sock'),
      // DELETE /vanish: the upstream closes the connection without an answer (not retriable: no resend).
      onRequest: (req) => {
        if (req.url !== '/vanish') return false;
        req.socket.destroy();
        return true;
      },
    });
    socket = path.join(dir, 'p.sock');
    proxy = await startCli(['proxy', '--upstream', upstream.url], socket);
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Whether the upstream parsed `p`, asked once it has parsed a later marker request on a fresh connection. */
  async function reachedUpstream(p: string, marker: string): Promise<boolean> {
    const out = await exchange(socket, `GET ${marker} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(statusLines(out)).toEqual(['200']);
    await waitFor(() => upstream.seen.some((r) => r.path === marker));
    return upstream.seen.some((r) => r.path === p);
  }

  it('after a request undici will not write (two Host fields): the 400, and the next request never goes up', async () => {
    // /warm leaves the undici client connected and idle, so a request started at once is written at once.
    const out = await exchange(
      socket,
      'GET /warm HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' +
        'GET /after-refused HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statusLines(out)).toEqual(['200', '400']);
    expect(out).toContain('the request cannot be forwarded');
    expect(await reachedUpstream('/after-refused', '/marker-refused')).toBe(false);
    expect(upstream.seen.some((r) => r.path === '/two-hosts')).toBe(false);
  });

  it('after an upstream that closes without an answer: the 502, and the next request never goes up', async () => {
    const out = await exchange(
      socket,
      'GET /warm HTTP/1.1\r\nHost: x\r\n\r\n' +
        'DELETE /vanish HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /after-failed HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statusLines(out)).toEqual(['200', '502']);
    expect(await reachedUpstream('/after-failed', '/marker-failed')).toBe(false);
  });
});
