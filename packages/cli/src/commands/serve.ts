import http from 'node:http';
import { peerOf } from '@peerauth/server';
import { type CommonOptions, serverSettings } from '../common.js';
import { remoteWhoamiBody, whoamiBody } from '../identity-view.js';
import { createLogger } from '../logger.js';
import { announce, runPeerServer } from '../run-server.js';

/** HTTP over the socket: GET /whoami answers with the caller's kernel-verified identity. */
export function createServeHandler(): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      const text = `${JSON.stringify(body, null, 2)}\n`;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'method not allowed' });
    if (url.pathname === '/healthz') return send(200, { ok: true });
    if (url.pathname === '/whoami') {
      const identity = peerOf(req);
      // Every connection that reaches the handler was admitted with an identity; a missing one is a bug.
      if (!identity) return send(500, { error: 'no peer identity for this connection' });
      return send(200, identity.auth === 'unix' ? whoamiBody(identity) : remoteWhoamiBody(identity));
    }
    return send(404, { error: `not found: ${url.pathname}` });
  };
}

export async function serveCommand(opts: CommonOptions): Promise<number> {
  const settings = await serverSettings(opts);
  const logger = await createLogger(settings.logFormat, settings.logLevel);
  const httpServer = http.createServer(createServeHandler());
  const running = await runPeerServer(settings, logger, { http: httpServer });
  announce(running.server, 'serve');
  await running.stopped;
  return 0;
}
