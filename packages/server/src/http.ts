import type http from 'node:http';
import type net from 'node:net';
import type { PeerServer } from './server.js';

/**
 * Serves `httpServer` through `peerServer`: each accepted peer connection is handed to the HTTP server,
 * which never listens itself. The hand-off happens inside the connection's identity context, so request
 * handlers see currentIdentity(), and peerOf(req) works through req.socket.
 */
export function serveHttp(peerServer: PeerServer, httpServer: http.Server): void {
  peerServer.on('peer', (socket: net.Socket) => {
    httpServer.emit('connection', socket);
  });
  // node:http starts its request/headers timeout checks on 'listening'; without them a slow client could
  // hold a connection forever.
  const announce = () => httpServer.emit('listening');
  if (peerServer.listening) announce();
  else peerServer.once('listening', announce);
  // On close, let the HTTP server drop idle keep-alive connections, or draining would wait for them, and
  // tell clients of requests still arriving to close theirs after the answer.
  peerServer.once('stopping', () => {
    httpServer.close();
  });
  httpServer.prependListener('request', (_req, res) => {
    if (peerServer.stopping) res.setHeader('connection', 'close');
  });
}
