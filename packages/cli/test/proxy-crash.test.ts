// No client's bytes can end the proxy: each case here once made a write meet a closed socket, or an event
// fire, where nothing listened for its error, and the whole process (every user's proxy) exited.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlStatus, type RunningCli, run, startCli, tempDir } from './helpers.js';
import { type RecordingUpstream, startPythonUpstream } from './upstreams.js';

/** Sends `parts` with `gapMs` between them, then waits until the proxy closes the connection (or the guard). */
function sendSlowly(socketPath: string, parts: string[], gapMs: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      out += d;
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve(out));
    (async () => {
      for (const p of parts) {
        if (sock.destroyed) return;
        sock.write(p);
        await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
    // A failure guard only.
    setTimeout(() => sock.destroy(), 10_000).unref();
  });
}

/**
 * An upstream on a Unix socket that answers every request head at once with a kept-alive 200 and reads no
 * body; `cut()` closes every connection it holds, as an upstream that gives up on a request does.
 */
async function startAnswerFirstUpstream(
  socketPath: string,
): Promise<{ cut(): void; close(): Promise<void> }> {
  const held = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    held.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => held.delete(sock));
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      sock.off('data', onData);
      sock.pause();
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    };
    sock.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(socketPath, () => r()));
  return {
    cut() {
      for (const s of held) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of held) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('peerauth proxy: the last body write after the upstream answered and left', () => {
  it('the final chunk meets a closed upstream socket: the proxy keeps serving (8 rounds of 60 in parallel)', {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir('pa23c-');
    const upstream = await startAnswerFirstUpstream(path.join(dir, 'up.sock'));
    const proxy = await startCli(
      ['proxy', '--upstream', `unix:${path.join(dir, 'up.sock')}`],
      path.join(dir, 'p.sock'),
    );
    try {
      const one = (i: number) =>
        new Promise<string>((resolve) => {
          const sock = net.connect(proxy.socket);
          let out = '';
          let sent = false;
          sock.setEncoding('latin1');
          sock.on('error', () => {});
          sock.on('close', () => resolve(out));
          sock.on('data', (d: string) => {
            out += d;
            if (!sent && /^HTTP\/1\.1 502 /.test(out)) return sock.destroy();
            // The answer is through the proxy: the upstream leaves, and the last chunk follows at once.
            if (sent || !out.includes('\r\n\r\nok')) return;
            sent = true;
            // Which comes first at the proxy varies with the load: both orders, and the chunk a moment later.
            if (i % 3 === 0) {
              sock.write('0\r\n\r\n');
              upstream.cut();
            } else if (i % 3 === 1) {
              upstream.cut();
              sock.write('0\r\n\r\n');
            } else {
              upstream.cut();
              setTimeout(() => sock.write('0\r\n\r\n'), (i % 7) / 2);
            }
            setTimeout(() => sock.destroy(), 200);
          });
          sock.write('POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
          setTimeout(() => sock.destroy(), 5_000).unref();
        });
      // The race is the proxy's to lose on any one connection; rounds make losing it certain on the old code.
      for (let round = 0; round < 8; round++) {
        const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => one(i)));
        await new Promise((r) => setTimeout(r, 100));
        expect(proxy.child.exitCode, proxy.stderr().slice(-3000)).toBeNull();
        // cut() also ends other connections' upstream requests in flight, which may get 502 instead.
        for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 (200|502) /);
      }
      expect(await curlStatus(proxy.socket, '/after')).toBe('200');
    } finally {
      await proxy.stop();
      await upstream.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('peerauth proxy: no client input ends the process', () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let proxy: RunningCli;

  beforeAll(async () => {
    dir = tempDir('pa23c-');
    // Answers at once without reading the body; /close then closes its side.
    upstream = await startPythonUpstream('nodrain');
    proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const alive = async () => {
    expect(proxy.child.exitCode, proxy.stderr().slice(-2000)).toBeNull();
    const r = await run('curl', ['-sS', '--unix-socket', proxy.socket, 'http://localhost/alive']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok');
  };

  // http.server answers at once; /keep keeps the connection and parses the chunk as a request (400, then
  // it closes), /close closes at once.
  for (const where of ['/keep', '/close']) {
    it(`${where}: a chunked body whose last chunk comes after the upstream answered and closed (many in parallel)`, async () => {
      const head = `POST ${where} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const attempts = Array.from({ length: 40 }, () =>
        sendSlowly(proxy.socket, [`${head}5\r\nhello\r\n`, '5\r\nworld\r\n', '0\r\n\r\n'], 20),
      );
      await Promise.all(attempts);
      await alive();
    });

    it(`${where}: the same with Content-Length, the rest of the body after the upstream closed`, async () => {
      const head = `PUT ${where} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n`;
      await Promise.all(
        Array.from({ length: 40 }, () => sendSlowly(proxy.socket, [`${head}hello`, 'world'], 20)),
      );
      await alive();
    });
  }

  it('a client that leaves in the middle of a slow body, on a kept-alive upstream connection', async () => {
    const head = 'POST /keep HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const sock = net.connect(proxy.socket);
            sock.on('error', () => {});
            sock.on('close', () => resolve());
            sock.write(`${head}5\r\nhello\r\n`);
            setTimeout(() => (i % 2 ? sock.destroy() : sock.end('5\r\nworld\r\n')), 20);
            setTimeout(() => sock.destroy(), 5_000).unref();
          }),
      ),
    );
    await alive();
  });
});
