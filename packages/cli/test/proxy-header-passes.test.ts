// The per-request header passes of the proxy: Expect goes upstream only with a body (node:http's server has
// answered `Expect: 100-continue` itself), hop-by-hop answer headers are dropped whatever their case, and
// the memo of client header verdicts stays right when clients send many distinct names.
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientHeaders, responseHeaderBuffers } from '../src/forwarded-headers.js';
import { headerPolicy } from '../src/header-namespace.js';
import { type RunningCli, startCli, tempDir } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { startByteUpstream } from './upstreams.js';

/** Answers each request head (and its two-byte body, when it has one) with a 200 carrying hop-by-hop headers. */
function hopByHopAnswer(pending: string): string | null {
  // A request with a body ends with it: here, the two bytes `hi`.
  const end = pending.indexOf('\r\n\r\n');
  if (end < 0) return null;
  if (/\r\ncontent-length: 2\r\n/i.test(pending) && pending.length < end + 6) return null;
  return (
    'HTTP/1.1 200 OK\r\nCONNECTION: keep-alive\r\nkeep-ALIVE: timeout=5\r\nTe: trailers\r\n' +
    'X-Kept: 1\r\nContent-Length: 2\r\n\r\nok'
  );
}

describe.skipIf(process.platform !== 'linux')(
  'peerauth proxy: per-request header passes (Linux: SO_PEERCRED)',
  () => {
    let dir: string;
    let upstream: { server: net.Server; received: () => string };
    let proxy: RunningCli;
    beforeAll(async () => {
      dir = tempDir('pahp-');
      upstream = await startByteUpstream(path.join(dir, 'up.sock'), hopByHopAnswer);
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

    it('a bodiless request with Expect: 100-continue is forwarded, without Expect', async () => {
      const before = upstream.received().length;
      const answer = await exchange(
        proxy.socket,
        'GET /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      );
      // node:http's server answers the 100 itself, then comes the upstream's answer.
      expect(statusLines(answer)).toEqual(['100', '200']);
      const sent = upstream.received().slice(before);
      expect(sent).toMatch(/^GET \/e HTTP\/1\.1\r\n/);
      expect(sent).not.toMatch(/\r\nexpect:/i);
    });

    it('a request with a body keeps Expect for the upstream', async () => {
      const before = upstream.received().length;
      const answer = await exchange(
        proxy.socket,
        'POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi',
      );
      expect(statusLines(answer)).toEqual(['100', '200']);
      const sent = upstream.received().slice(before);
      expect(sent).toMatch(/\r\nExpect: 100-continue\r\n/i);
      expect(sent.endsWith('\r\n\r\nhi')).toBe(true);
    });

    it('hop-by-hop answer headers never reach the client, whatever their case', async () => {
      const answer = await exchange(proxy.socket, 'GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
      expect(head).toMatch(/\r\nX-Kept: 1(\r\n|$)/);
      expect(head).not.toMatch(/keep-alive: timeout/i);
      expect(head).not.toMatch(/\r\nte:/i);
      // node:http writes its own Connection for the client connection, never the upstream's keep-alive.
      expect(head).not.toMatch(/\r\nconnection: keep-alive/i);
    });
  },
);

describe('header passes, in process', () => {
  it('responseHeaderBuffers drops hop-by-hop names in any case and keeps the rest in order', () => {
    const raw = [
      'Content-Type',
      'a',
      'TRANSFER-ENCODING',
      'chunked',
      'tE',
      'x',
      'Trailers',
      'y',
      'Upgrade',
      'z',
    ];
    expect(responseHeaderBuffers(raw.map((s) => Buffer.from(s, 'latin1')))).toEqual([
      'Content-Type',
      'a',
      'Trailers',
      'y',
    ]);
  });

  it('clientHeaders keeps one memo per policy, and decides names too long to memoise every time', () => {
    const dropsAcme = headerPolicy({ dropHeaders: ['X-Acme-*'] });
    const keepsAcme = headerPolicy({});
    const long = `X-Acme-${'a'.repeat(4000)}`;
    const raw = ['X-Acme-Id', '1', long, '2', 'X-Plain', '3'];
    for (let round = 0; round < 2; round++) {
      expect(clientHeaders(raw, [], dropsAcme)).toEqual(['X-Plain', '3']);
      expect(clientHeaders(raw, [], keepsAcme)).toEqual(raw);
    }
  });

  it('clientHeaders decides right for more distinct names than its memo holds, and again after', () => {
    const policy = headerPolicy({ dropHeaders: ['X-Acme-*'] });
    for (let round = 0; round < 2; round++) {
      const raw: string[] = [];
      for (let i = 0; i < 1500; i++) raw.push(i % 2 ? `X-Acme-${i}` : `X-Other-${i}`, String(i));
      raw.push('X-Remote-User', 'mallory', 'Expect', '100-continue');
      const out = clientHeaders(raw, [], policy);
      expect(out.length).toBe(750 * 2 + 2);
      expect(out.filter((_, i) => i % 2 === 0).every((n) => n.startsWith('X-Other-') || n === 'Expect')).toBe(
        true,
      );
      expect(clientHeaders(raw, [], policy, true)).not.toContain('Expect');
    }
  });
});
