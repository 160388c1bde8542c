// An MCP client that reaches the server through peerauth's Unix socket and calls `whoami`.
//   node client.mjs stdio <socket> [--as USER]   peerauth exec: stdio carried over the socket by unix-stdio.mjs
//   node client.mjs http <socket> [--as USER]    peerauth proxy: Streamable HTTP, fetch over the socket
// Prints the tool's answer: who the server was told is calling. The kernel reports the process that
// connects, so --as USER (root only) connects through `runuser -u USER -- node unix-stdio.mjs`: the client
// logic stays here, the connection is that user's.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Duplex, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [mode, socketPath, asFlag, asUser] = process.argv.slice(2);
if (
  (mode !== 'stdio' && mode !== 'http') ||
  !socketPath ||
  (asFlag !== undefined && (asFlag !== '--as' || !asUser))
) {
  console.error('usage: node client.mjs stdio|http <socket> [--as USER]');
  process.exit(2);
}
const socket = socketPath;
const bridge = new URL('./unix-stdio.mjs', import.meta.url);
// As another user, the bridge's source goes on the command line: that user may not be able to read this
// checkout (a clone under /root is 0700). The name before the socket keeps the socket at process.argv[2].
const connector = asUser
  ? {
      command: 'runuser',
      args: [
        '-u',
        asUser,
        '--',
        process.execPath,
        '--input-type=module',
        '-e',
        readFileSync(bridge, 'utf8'),
        '--',
        'unix-stdio.mjs',
        socket,
      ],
    }
  : { command: process.execPath, args: [fileURLToPath(bridge), socket] };

/** A connection to the socket: direct, or through unix-stdio.mjs running as --as USER. */
function connect() {
  if (!asUser) return net.connect(socket);
  const child = spawn(connector.command, connector.args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return Duplex.from({ writable: child.stdin, readable: child.stdout });
}

/**
 * fetch() over the Unix socket (Node's global fetch has no socketPath option without undici's Agent).
 * @returns {(url: string | URL | Request, init?: RequestInit) => Promise<Response>}
 */
function unixFetch() {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const target = new URL(url instanceof Request ? url.url : url);
      const req = http.request(
        {
          createConnection: () => /** @type {net.Socket} */ (connect()),
          path: `${target.pathname}${target.search}`,
          method: init.method ?? 'GET',
          headers: Object.fromEntries(new Headers(init.headers)),
        },
        (res) => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, String(v));
          const empty = res.statusCode === 202 || res.statusCode === 204;
          const body = empty ? null : /** @type {ReadableStream} */ (Readable.toWeb(res));
          resolve(new Response(body, { status: res.statusCode, headers }));
        },
      );
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(typeof init.body === 'string' ? init.body : undefined);
    });
}

const transport =
  mode === 'stdio'
    ? new StdioClientTransport(connector)
    : new StreamableHTTPClientTransport(new URL('http://localhost/mcp'), { fetch: unixFetch() });
const client = new Client({ name: 'peerauth-example-client', version: '1.0.0' });
await client.connect(transport);
const result = await client.callTool({ name: 'whoami' });
const [first] = /** @type {{ type: string, text?: string }[]} */ (result.content);
console.log(first?.text);
await client.close();
