// The server under stress, in its own process: createPeerServer + node:http answering GET /whoami with the
// caller's uid. argv: socketPath. Prints "ready" once listening; SIGTERM stops it (handleSignals).
import http from 'node:http';
import { createPeerServer, peerOf, serveHttp } from '../dist/index.js';

const [socketPath] = process.argv.slice(2);
const silent = { info() {}, warn() {}, error() {}, debug() {}, isLevelEnabled: () => false };
const server = createPeerServer({
  path: socketPath,
  mode: 0o666,
  logger: silent,
  handleSignals: true,
  // Repeat clients must go through the pool like new ones would; the memo would hide the lookups.
  cache: { ttlMs: 1, identities: 0 },
});
const httpServer = http.createServer((req, res) => {
  const identity = peerOf(req);
  const body = JSON.stringify({ uid: identity?.uid ?? null });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
serveHttp(server, httpServer);
server.on('error', (err) => {
  process.stdout.write(`ERROR ${err.code ?? err.message}\n`);
  process.exit(2);
});
server.listen(() => process.stdout.write('ready\n'));
