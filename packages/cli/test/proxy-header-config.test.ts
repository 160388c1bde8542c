// The config's proxy section: more names to drop, or an allow-list of client headers.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli, tempDir, writeConfig } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { startNodeUpstream } from './upstreams.js';

async function forwardedNames(proxyConfig: unknown, request: string): Promise<string[]> {
  const dir = tempDir('pa23h-');
  const upstream = await startNodeUpstream({ socketPath: path.join(dir, 'up.sock') });
  const config = writeConfig(dir, { people: [], proxy: proxyConfig });
  const proxy = await startCli(
    ['proxy', '--upstream', upstream.url, '--config', config],
    path.join(dir, 'p.sock'),
  );
  try {
    const answer = await exchange(proxy.socket, request);
    expect(statusLines(answer)).toEqual(['200']);
    expect(upstream.seen).toHaveLength(1);
    // Without the stamps (X-Peerauth-*, X-Forwarded-User and -Groups) and the proxy's own Connection.
    return upstream.seen[0]!.headers.map(([n]) => n).filter(
      (n) => !/^(x-(peerauth|forwarded)-|connection$)/i.test(n),
    );
  } finally {
    await proxy.stop();
    await upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const REQUEST =
  'GET /c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX_Acme.User: mallory\r\nX-Tenant.Id: 7\r\nX-App-Trace: 1\r\nCookie: a=b\r\nX-Remote-User: root\r\nConnection: close\r\n\r\n';

describe('peerauth proxy: the config proxy section', () => {
  it('dropHeaders drops the names and prefixes it lists, by folded name', async () => {
    const names = await forwardedNames({ dropHeaders: ['X-Acme-User', 'X-Tenant-*'] }, REQUEST);
    // undici writes the Host it is given as `host` (header names are case-insensitive).
    expect(names).toEqual(['host', 'Accept', 'X-App-Trace', 'Cookie']);
  });

  it('forwardHeaders forwards only what it lists and Host, never a dropped family', async () => {
    const names = await forwardedNames({ forwardHeaders: ['Accept', 'X-App-*', 'X-Remote-User'] }, REQUEST);
    expect(names).toEqual(['host', 'Accept', 'X-App-Trace']);
  });

  it('check-config names a bad entry with its path', async () => {
    const dir = tempDir('pa23h-');
    try {
      const config = writeConfig(dir, {
        people: [],
        proxy: { dropHeaders: ['X Acme'], forwardHeaders: ['a*b'] },
      });
      const r = await runCli(['check-config', config]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain('proxy.dropHeaders[0]');
      expect(r.stdout + r.stderr).toContain('proxy.forwardHeaders[0]');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
