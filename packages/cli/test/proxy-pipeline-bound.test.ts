// A client pipelining requests behind one the upstream holds: the proxy takes in a bounded number of them
// and then stops reading the client's connection (the rest stays in the client's send buffer), and reads
// on once answers go out. Without the bound node:http parses all of them and the proxy holds each one.
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';
import { type RecordingUpstream, startNodeUpstream } from './upstreams.js';

const REQUESTS = 3000;
// Each request about 1 KB: 3 MB in all, far more than the kernel buffers of a Unix socket pair.
const PAD = 'a'.repeat(1000);

/** Polls `read` until it returns the same value `times` times in a row (a failure guard caps the polls). */
async function settled(read: () => number, times = 10, everyMs = 100): Promise<number> {
  let last = read();
  let same = 0;
  for (let polls = 0; polls < 80 && same < times; polls++) {
    await new Promise((r) => setTimeout(r, everyMs));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

describe('peerauth proxy: a bound on requests pipelined and waiting', () => {
  let dir: string;
  let upstream: RecordingUpstream & { server: http.Server };
  let proxy: RunningCli;
  let release: (() => void) | null = null;
  beforeAll(async () => {
    dir = tempDir('papq-');
    upstream = await startNodeUpstream({
      socketPath: path.join(dir, 'up.sock'),
      onRequest: (req, res) => {
        if (req.url !== '/hold') return false;
        release = () => res.end('held');
        return true;
      },
    });
    proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stops reading a client whose requests wait behind a held answer, and goes on once it comes', async () => {
    const parts = ['GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'];
    for (let i = 1; i < REQUESTS; i++) parts.push(`GET /r/${i} HTTP/1.1\r\nHost: x\r\nX-Pad: ${PAD}\r\n\r\n`);
    const bytes = Buffer.from(parts.join(''), 'latin1');
    const sock = net.connect(proxy.socket);
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      out += d;
    });
    sock.on('error', () => {});
    try {
      await new Promise<void>((resolve) => sock.once('connect', resolve));
      sock.write(bytes);
      await waitFor(() => release !== null);
      // The proxy stopped reading: most of the bytes are still in the client's own buffer.
      const unsent = await settled(() => sock.writableLength);
      expect(unsent).toBeGreaterThan(bytes.length / 2);
      expect(upstream.seen.map((s) => s.path)).toEqual(['/hold']);
      expect(out).toBe('');
      release!();
      // Every request is answered, in order, once the first answer comes: nothing was dropped.
      await waitFor(() => (out.match(/HTTP\/1\.1 200 /g) ?? []).length === REQUESTS, 60_000);
      expect(sock.writableLength).toBe(0);
      expect(upstream.seen.length).toBe(REQUESTS);
      expect(upstream.seen.at(-1)?.path).toBe(`/r/${REQUESTS - 1}`);
      expect(proxy.child.exitCode).toBeNull();
    } finally {
      sock.destroy();
    }
  }, 90_000);
});
