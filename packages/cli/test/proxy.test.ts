import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlStatus, type RunningCli, run, startCli, tempDir } from './helpers.js';

interface Seen {
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  sha256: string;
  bytes: number;
}

/** A real upstream that reports what it received: headers and a hash of the body. */
function startUpstream(port = 0, delayMs = 0): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    req.on('end', () => {
      const seen: Seen = {
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        sha256: hash.digest('hex'),
        bytes,
      };
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(seen));
      }, delayMs);
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('peerauth proxy', () => {
  let dir: string;
  let upstream: http.Server;
  let port: number;
  let cli: RunningCli;

  beforeAll(async () => {
    dir = tempDir();
    upstream = await startUpstream();
    port = (upstream.address() as AddressInfo).port;
    cli = await startCli(['proxy', '--upstream', `http://127.0.0.1:${port}`], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    if (upstream.listening) await close(upstream);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function through(
    args: string[],
  ): Promise<{ code: number | null; status: string; seen: Seen | null; body: string }> {
    const r = await run('curl', ['-sS', '-w', '\n%{http_code}', '--unix-socket', cli.socket, ...args]);
    const nl = r.stdout.lastIndexOf('\n');
    const body = r.stdout.slice(0, nl);
    const status = r.stdout.slice(nl + 1);
    let seen: Seen | null = null;
    try {
      seen = JSON.parse(body) as Seen;
    } catch {}
    return { code: r.code, status, seen, body };
  }

  it("the start line's suggested request goes upstream, and says so", async () => {
    const line = cli
      .stdout()
      .split('\n')
      .find((l) => l.startsWith('try: '))!;
    expect(line).toContain(`# forwarded to http://127.0.0.1:${port} with your identity`);
    expect(line).not.toContain('/whoami');
    const [, ...args] = line.slice('try: '.length).split('#')[0]!.trim().split(/\s+/);
    const { status, seen } = await through(args.slice(2));
    expect(args.slice(0, 2)).toEqual(['--unix-socket', cli.socket]);
    expect(status).toBe('200');
    expect(seen!.headers['x-peerauth-uid']).toBe(String(process.getuid!()));
  });

  it('the upstream receives the caller identity headers', async () => {
    const { status, seen } = await through(['http://localhost/anything']);
    expect(status).toBe('200');
    expect(seen!.headers['x-peerauth-uid']).toBe(String(process.getuid!()));
    expect(seen!.headers['x-peerauth-role']).toBe('owner');
    expect(seen!.headers['x-peerauth-person']).toBe('owner');
    expect(seen!.headers['x-peerauth-spiffe-id']).toBe(`spiffe://peerauth.local/uid-${process.getuid!()}`);
    expect(seen!.headers['x-peerauth-user']).toBe(seen!.headers['x-forwarded-user']);
  });

  it('identity headers sent by the client are replaced by the true values, whatever their case', async () => {
    const { seen } = await through([
      '-H',
      'X-Peerauth-Role: admin',
      '-H',
      'x-forwarded-user: mallory',
      '-H',
      'X-PEERAUTH-UID: 0',
      '-H',
      'x-peerauth-person: Mallory',
      'http://localhost/',
    ]);
    const names = seen!.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    for (const h of ['x-peerauth-role', 'x-forwarded-user', 'x-peerauth-uid', 'x-peerauth-person']) {
      expect(names.filter((n) => n === h)).toHaveLength(1);
    }
    expect(seen!.headers['x-peerauth-role']).toBe('owner');
    expect(seen!.headers['x-forwarded-user']).not.toBe('mallory');
    expect(seen!.headers['x-peerauth-uid']).toBe(String(process.getuid!()));
    expect(seen!.headers['x-peerauth-person']).toBe('owner');
  });

  it('a 10 MiB body streams through intact', async () => {
    const file = path.join(dir, 'body.bin');
    const data = randomBytes(10 * 1024 * 1024);
    fs.writeFileSync(file, data);
    const { status, seen } = await through(['--data-binary', `@${file}`, 'http://localhost/upload']);
    expect(status).toBe('200');
    expect(seen!.bytes).toBe(data.length);
    expect(seen!.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('an unreachable upstream gives 502, and the proxy serves again once it is back', async () => {
    await close(upstream);
    const down = await through(['http://localhost/']);
    expect(down.status).toBe('502');
    expect(down.body).toContain('unreachable');
    upstream = await startUpstream(port);
    const back = await through(['http://localhost/']);
    expect(back.status).toBe('200');
    expect(back.seen!.headers['x-peerauth-role']).toBe('owner');
  });
});

describe('peerauth shutdown', () => {
  it('SIGTERM during an open request: the request completes, the socket file is gone, exit 0', async () => {
    const dir = tempDir();
    const slow = await startUpstream(0, 1500);
    const port = (slow.address() as AddressInfo).port;
    const cli = await startCli(['proxy', '--upstream', `http://127.0.0.1:${port}`], path.join(dir, 'p.sock'));
    let arrived = false;
    slow.once('request', () => {
      arrived = true;
    });
    const request = curlStatus(cli.socket, '/slow');
    while (!arrived) await new Promise((r) => setTimeout(r, 20));
    cli.child.kill('SIGTERM');
    const [r, code] = await Promise.all([request, cli.exited]);
    expect(r).toBe('200');
    expect(code).toBe(0);
    expect(fs.existsSync(cli.socket)).toBe(false);
    await close(slow);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
