// A client that shuts down its sending side (socat at the end of its input, nc -N, socket.end()) must
// still get the whole reply: exec gives the child EOF on stdin, proxy --raw sends FIN to the upstream,
// and the other direction stays open until it ends.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../../../test-fixtures/tools.js';
import { fixtures, type RunningCli, run, startCli, tempDir } from './helpers.js';

// socat is what the README shows; a fresh machine lacks it, so its cases skip there (and fail in CI).
const socat = hasTool('socat', 'half-close through socat');

/** socat sends its input, shuts down its writing side at EOF and prints what comes back until the server ends. */
async function viaSocat(socket: string, input: string): Promise<string> {
  // -t: how long socat waits for the reply after its input ended; a failure guard, not a measure.
  const r = await run('sh', [
    '-c',
    `printf '%s' "$1" | socat -t 30 - UNIX-CONNECT:"$2"`,
    'sh',
    input,
    socket,
  ]);
  if (r.code !== 0) throw new Error(`socat failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

// A separate process, so the connection is a real client's: socket.end(input), then print all it receives.
const NODE_CLIENT = `
const net = require('node:net');
const [socketPath, input] = process.argv.slice(1);
const sock = net.connect(socketPath);
let out = '';
sock.on('data', (d) => { out += d; });
sock.on('connect', () => sock.end(input));
sock.on('close', () => { process.stdout.write(out); });
sock.on('error', (err) => { process.stderr.write(String(err)); process.exitCode = 1; });
`;

async function viaNode(socket: string, input: string): Promise<string> {
  const r = await run(process.execPath, ['-e', NODE_CLIENT, socket, input]);
  if (r.code !== 0) throw new Error(`node client failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Like socat: input on a pipe to unix-stdio.mjs, which half-closes at the pipe's end. */
async function viaStdio(socket: string, input: string): Promise<string> {
  const script = path.join(fixtures, 'cli/unix-stdio.mjs');
  const r = await run('sh', [
    '-c',
    `printf '%s' "$1" | "$2" "$3" "$4"`,
    'sh',
    input,
    process.execPath,
    script,
    socket,
  ]);
  if (r.code !== 0) throw new Error(`unix-stdio failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const clients = [
  ['socat', viaSocat, socat],
  ['a Node client doing socket.end()', viaNode, true],
  ['unix-stdio.mjs at the end of its piped input', viaStdio, true],
] as const;

describe('half-close: peerauth exec', () => {
  let dir: string;
  let cli: RunningCli;
  beforeAll(async () => {
    dir = tempDir();
    cli = await startCli(['exec', '--', 'wc', '-c'], path.join(dir, 'e.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, send, available] of clients) {
    it.skipIf(!available)(`${name}: the child reads to EOF and its whole answer comes back`, async () => {
      expect((await send(cli.socket, 'hello')).trim()).toBe('5');
    });
    it.skipIf(!available)(
      `${name}: a client that sends nothing and shuts down at once still gets the answer`,
      async () => {
        expect((await send(cli.socket, '')).trim()).toBe('0');
      },
    );
  }
});

describe('half-close: peerauth proxy --raw', () => {
  let dir: string;
  let upstream: net.Server;
  let cli: RunningCli;
  beforeAll(async () => {
    dir = tempDir();
    const upstreamPath = path.join(dir, 'up.sock');
    // Answers with the number of bytes it received, once the sender has finished.
    upstream = net.createServer({ allowHalfOpen: true }, (sock) => {
      let n = 0;
      sock.on('data', (d: Buffer) => {
        n += d.length;
      });
      sock.on('end', () => sock.end(`${n}\n`));
      sock.on('error', () => {});
    });
    await new Promise<void>((resolve) => upstream.listen(upstreamPath, resolve));
    cli = await startCli(['proxy', '--raw', '--upstream', `unix:${upstreamPath}`], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, send, available] of clients) {
    it.skipIf(!available)(`${name}: the upstream gets FIN and its answer comes back`, async () => {
      expect((await send(cli.socket, 'hello')).trim()).toBe('5');
    });
    it.skipIf(!available)(
      `${name}: a client that sends nothing and shuts down at once still gets the answer`,
      async () => {
        expect((await send(cli.socket, '')).trim()).toBe('0');
      },
    );
  }
});

describe('half-close: peerauth proxy (HTTP)', () => {
  let dir: string;
  let upstream: http.Server;
  let cli: RunningCli;
  beforeAll(async () => {
    dir = tempDir();
    const upstreamPath = path.join(dir, 'up.sock');
    // Answers a moment later, as any upstream that does some work: the answer comes after the client's FIN.
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end(`answer for ${req.url}\n`), 50));
    });
    await new Promise<void>((resolve) => upstream.listen(upstreamPath, resolve));
    cli = await startCli(['proxy', '--upstream', `unix:${upstreamPath}`], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, send] of clients) {
    it(`${name}: a complete request, then FIN: the answer comes back and the connection closes`, async () => {
      const out = await send(cli.socket, 'GET /half HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(out).toMatch(/^HTTP\/1\.1 200 /);
      expect(out).toContain('answer for /half');
    });
    it(`${name}: two pipelined requests, then FIN: both answers come back`, async () => {
      const out = await send(
        cli.socket,
        'GET /one HTTP/1.1\r\nHost: x\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi',
      );
      expect(out).toContain('answer for /one');
      expect(out).toContain('answer for /two');
    });
  }
});
