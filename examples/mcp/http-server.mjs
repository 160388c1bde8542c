// Behind `peerauth proxy`: MCP over Streamable HTTP on a Unix socket only the proxy can reach (in a 0700
// directory), so the X-Peerauth-* headers, which the proxy sets and strips from clients, can be trusted.
// Stateless: every POST gets its own server and transport, with that request's caller.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createWhoamiServer } from './whoami-server.mjs';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: node http-server.mjs <socket path in a private directory>');
  process.exit(2);
}
const dir = path.dirname(socketPath);
fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
if ((fs.statSync(dir).mode & 0o077) !== 0) {
  console.error(`http-server.mjs: ${dir} must be private (0700): only the proxy may reach this socket`);
  process.exit(1);
}

/** @param {http.IncomingMessage} req @param {string} name */
const header = (req, name) => {
  const value = req.headers[name];
  return typeof value === 'string' ? decodeURIComponent(value) : null;
};

const httpServer = http.createServer(async (req, res) => {
  const uid = header(req, 'x-peerauth-uid');
  const role = header(req, 'x-peerauth-role');
  if (req.method !== 'POST' || req.url !== '/mcp' || uid === null || role === null) {
    res.writeHead(req.method === 'POST' ? 403 : 405).end();
    return;
  }
  const server = createWhoamiServer({
    uid: Number(uid),
    user: header(req, 'x-peerauth-user'),
    person: header(req, 'x-peerauth-person'),
    role,
    spiffeId: header(req, 'x-peerauth-spiffe-id') ?? '',
  });
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
});
fs.rmSync(socketPath, { force: true });
httpServer.listen(socketPath, () => console.log(`mcp http-server listening on ${socketPath}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => httpServer.close(() => process.exit(0)));
