// An Express app served through peerauth: every request carries the caller's kernel-verified identity.
//   node app.mjs /tmp/peerauth-express/app.sock
//   curl --unix-socket /tmp/peerauth-express/app.sock http://localhost/whoami
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createPeerServer, serveHttp } from '@peerauth/server';
import { peerauth } from '@peerauth/server/express';
import express from 'express';

const socketPath = process.argv[2] ?? '/tmp/peerauth-express/app.sock';
// The server creates only its default directory; for a path of your choosing the directory must exist.
// 0755: the socket's mode (0666) lets every local user connect, so they must be able to reach it.
fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
const peer = createPeerServer({
  path: socketPath,
  mode: 0o666,
  identity: { roles: ['admin', 'public'], people: [{ name: 'root', role: 'admin', uids: [0] }] },
  handleSignals: true,
});

const app = express();
app.use(peerauth()); // 403 for requests that did not come through peerauth; behind it req.peer is set
app.get('/whoami', (req, res) => {
  res.json({
    // uid and username exist for a local (Unix socket) peer: auth 'unix'.
    uid: req.peer.auth === 'unix' ? req.peer.uid : null,
    user: req.peer.auth === 'unix' ? req.peer.username : null,
    person: req.peer.person?.name ?? null,
    role: req.peer.role,
  });
});
app.get('/admin', (req, res) => {
  if (req.peer.role !== 'admin') res.status(403).json({ error: `role ${req.peer.role} may not` });
  else res.json({ ok: true });
});

serveHttp(peer, http.createServer(app));
peer.listen(() => console.log(`express example listening on ${peer.path}`));
