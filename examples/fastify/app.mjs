// A Fastify app served through peerauth: every request carries the caller's kernel-verified identity.
//   node app.mjs /tmp/peerauth-fastify/app.sock
//   curl --unix-socket /tmp/peerauth-fastify/app.sock http://localhost/whoami
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createPeerServer, serveHttp } from '@peerauth/server';
import peerauthPlugin from '@peerauth/server/fastify';
import Fastify from 'fastify';

const socketPath = process.argv[2] ?? '/tmp/peerauth-fastify/app.sock';
// The server creates only its default directory; for a path of your choosing the directory must exist.
// 0755: the socket's mode (0666) lets every local user connect, so they must be able to reach it.
fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
const peer = createPeerServer({
  path: socketPath,
  mode: 0o666,
  identity: { roles: ['admin', 'public'], people: [{ name: 'root', role: 'admin', uids: [0] }] },
  handleSignals: true,
});

const app = Fastify({
  // Fastify never listens itself: the peer server hands it each identified connection.
  serverFactory: (handler) => {
    const server = http.createServer(handler);
    serveHttp(peer, server);
    return server;
  },
});
await app.register(peerauthPlugin); // 403 without an identity; request.peer is typed Identity
app.get('/whoami', async (request) => ({
  // uid and username exist for a local (Unix socket) peer: auth 'unix'.
  uid: request.peer.auth === 'unix' ? request.peer.uid : null,
  user: request.peer.auth === 'unix' ? request.peer.username : null,
  person: request.peer.person?.name ?? null,
  role: request.peer.role,
}));
app.get('/admin', async (request, reply) =>
  request.peer.role === 'admin'
    ? { ok: true }
    : reply.code(403).send({ error: `role ${request.peer.role} may not` }),
);
await app.ready();
peer.listen(() => console.log(`fastify example listening on ${peer.path}`));
