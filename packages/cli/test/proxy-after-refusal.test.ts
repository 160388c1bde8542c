// Once the proxy has answered a request itself with an error, nothing more from that client connection
// reaches the upstream: the rest of what the client sent is not trusted to be framed as it claims. The
// error is answered, then the connection closes; requests pipelined after it are never forwarded.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { type RecordingUpstream, startNodeUpstream } from './upstreams.js';

const REFUSED: [string, string, string][] = [
  ['400', 'a GET with a body', 'GET /refused HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc'],
  ['431', 'more than 100 header fields', `GET /refused HTTP/1.1\r\nHost: x\r\n${'a: 1\r\n'.repeat(101)}\r\n`],
  [
    '501',
    'an unsupported transfer coding',
    'POST /refused HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  ],
  ['400', 'two Host fields', 'GET /refused HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'],
];

describe('peerauth proxy: requests pipelined after one the proxy refused', () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let proxy: RunningCli;

  beforeAll(async () => {
    dir = tempDir('pa29r-');
    upstream = await startNodeUpstream({ socketPath: path.join(dir, 'up.sock') });
    proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [status, what, refused] of REFUSED) {
    it(`after ${what} (${status}): the answer, then the close; the next request never reaches the upstream`, async () => {
      upstream.seen.length = 0;
      const answer = await exchange(
        proxy.socket,
        `GET /before HTTP/1.1\r\nHost: x\r\n\r\n${refused}` +
          'GET /after HTTP/1.1\r\nHost: x\r\n\r\nGET /after-close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(statusLines(answer), answer).toEqual(['200', status]);
      // A later request on a fresh connection, as a marker: once it arrived, so would have anything the
      // refused connection still had forwarded.
      await exchange(proxy.socket, 'GET /marker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await waitFor(() => upstream.seen.some((r) => r.path === '/marker'));
      expect(upstream.seen.map((r) => r.path)).toEqual(['/before', '/marker']);
    });
  }
});
