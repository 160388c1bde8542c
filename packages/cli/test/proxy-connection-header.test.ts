import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { startCli, tempDir } from './helpers.js';
import { exchange } from './raw-client.js';
import { expectStamps, ownStamps } from './stamps.js';
import { type RecordingUpstream, startNodeUpstream, startPythonUpstream } from './upstreams.js';

/**
 * Hop-by-hop headers whose values name the proxy's stamps: an intermediary or framework that honours
 * Connection would drop every header it names, so none of these client values may reach the upstream.
 */
const HOP_BY_HOP =
  'Keep-Alive: timeout=5, X-Peerauth-Role\r\n' +
  'TE: trailers, X-Peerauth-Uid\r\n' +
  'Trailer: X-Peerauth-User\r\n' +
  'Proxy-Connection: keep-alive, X-Peerauth-Gid\r\n';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: x\r\n' +
  'Connection: Upgrade, X-Forwarded-User, X-Peerauth-Person, X-Peerauth-Spiffe-Id\r\n' +
  'Upgrade: websocket, X-Peerauth-Groups\r\n' +
  HOP_BY_HOP +
  '\r\n';

const ORDINARY =
  'GET /plain HTTP/1.1\r\nHost: x\r\n' +
  'Connection: keep-alive, X-Forwarded-User, X-Peerauth-Person, X-Peerauth-Spiffe-Id\r\n' +
  HOP_BY_HOP +
  '\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close, X-Peerauth-Role\r\n\r\n';

function valuesOf(headers: [string, string][], name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

describeAsRoot('peerauth proxy: the Connection header is the proxy’s own', () => {
  let dir: string;
  const upstreams: Record<string, RecordingUpstream> = {};
  const proxies: Record<string, { socket: string; stop: () => Promise<unknown> }> = {};

  beforeAll(async () => {
    dir = tempDir('pa10f-');
    upstreams.node = await startNodeUpstream();
    upstreams.python = await startPythonUpstream('httpserver');
    for (const [kind, up] of Object.entries(upstreams)) {
      const cli = await startCli(['proxy', '--upstream', up.url], path.join(dir, `${kind}.sock`));
      proxies[kind] = { socket: cli.socket, stop: () => cli.stop() };
    }
  });
  afterAll(async () => {
    for (const p of Object.values(proxies)) await p.stop();
    for (const u of Object.values(upstreams)) await u.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ['node', 'python']) {
    it(`${kind}: an upgrade request carries Connection: Upgrade only, and every stamp`, async () => {
      const up = upstreams[kind]!;
      up.seen.length = 0;
      await exchange(proxies[kind]!.socket, UPGRADE);
      expect(up.seen.map((r) => r.path)).toEqual(['/ws']);
      const [req] = up.seen;
      expect(valuesOf(req!.headers, 'connection')).toEqual(['Upgrade']);
      // Upgrade lists protocols, not header names: only the allowed ones (websocket) are offered upstream.
      expect(valuesOf(req!.headers, 'upgrade')).toEqual(['websocket']);
      for (const name of ['keep-alive', 'te', 'trailer', 'proxy-connection'])
        expect(valuesOf(req!.headers, name), name).toEqual([]);
      expectStamps(req!, ownStamps());
    });

    it(`${kind}: ordinary requests carry no client Connection token, and every stamp`, async () => {
      const up = upstreams[kind]!;
      up.seen.length = 0;
      await exchange(proxies[kind]!.socket, ORDINARY);
      // Pipelined: the two requests may go upstream on two connections at once, and a threaded upstream
      // records them in either order; what matters here is each one's headers.
      expect(up.seen.map((r) => r.path).sort()).toEqual(['/last', '/plain']);
      for (const req of up.seen) {
        const connection = valuesOf(req.headers, 'connection');
        expect(connection.length).toBeLessThanOrEqual(1);
        for (const v of connection) expect(['keep-alive', 'close']).toContain(v.toLowerCase());
        for (const name of ['keep-alive', 'te', 'trailer', 'proxy-connection'])
          expect(valuesOf(req.headers, name), name).toEqual([]);
        expectStamps(req, ownStamps());
      }
    });
  }
});
