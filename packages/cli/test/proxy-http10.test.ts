// HTTP/1.0 requests may come without Host; the proxy forwards HTTP/1.1, where Host is required (node:http,
// h11/hypercorn, Go and others answer 400 without one). As nginx and Go's ReverseProxy do, the proxy names
// the upstream it forwards to.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, tempDir } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { type RecordingUpstream, startNodeUpstream } from './upstreams.js';

describe('peerauth proxy: an HTTP/1.0 request without Host', () => {
  let dir: string;
  let tcp: RecordingUpstream;
  let unix: RecordingUpstream;
  let tcpProxy: RunningCli;
  let unixProxy: RunningCli;
  beforeAll(async () => {
    dir = tempDir('pa23h-');
    tcp = await startNodeUpstream();
    unix = await startNodeUpstream({ socketPath: path.join(dir, 'up.sock') });
    tcpProxy = await startCli(['proxy', '--upstream', tcp.url], path.join(dir, 't.sock'));
    unixProxy = await startCli(['proxy', '--upstream', unix.url], path.join(dir, 'u.sock'));
  });
  afterAll(async () => {
    await tcpProxy?.stop();
    await unixProxy?.stop();
    await tcp?.close();
    await unix?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const hostOf = (u: RecordingUpstream) =>
    u.seen[0]!.headers.filter(([n]) => n.toLowerCase() === 'host').map(([, v]) => v);

  it('goes upstream with the upstream host:port as Host', async () => {
    const answer = await exchange(tcpProxy.socket, 'GET /nohost HTTP/1.0\r\n\r\n');
    expect(statusLines(answer)).toEqual(['200']);
    expect(hostOf(tcp)).toEqual([tcp.url.slice('http://'.length)]);
  });

  it('to a Unix-socket upstream with Host: localhost', async () => {
    const answer = await exchange(unixProxy.socket, 'GET /nohost HTTP/1.0\r\n\r\n');
    expect(statusLines(answer)).toEqual(['200']);
    expect(hostOf(unix)).toEqual(['localhost']);
  });

  it("a client's own Host is kept as it is", async () => {
    tcp.seen.length = 0;
    const answer = await exchange(tcpProxy.socket, 'GET /host HTTP/1.0\r\nHost: app.example\r\n\r\n');
    expect(statusLines(answer)).toEqual(['200']);
    expect(hostOf(tcp)).toEqual(['app.example']);
  });
});
