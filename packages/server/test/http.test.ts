import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { currentIdentity, type Identity, type NoIdentityError } from '@peerauth/identity';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
} from '../../../test-fixtures/users.js';
import { peerauth } from '../src/express.js';
import peerauthPlugin from '../src/fastify.js';
import { createPeerServer, type PeerServer, peerOf, serveHttp } from '../src/index.js';
import { asUser, makeTempDir, removeDir, run, silentLogger, unix } from './helpers.js';

const CAROL = { name: 'pasrv_carol', uid: 42003, gid: 42012 };
const CONFIG = {
  trustDomain: 'example.org',
  fallbackRole: 'guest',
  people: [{ name: 'Carol', role: 'admin', osUsername: CAROL.name }],
  groupRoles: {},
  userMaps: [],
};

let dir: string;
let peer: PeerServer | undefined;
let fastifyApp: FastifyInstance | undefined;

beforeEach(() => {
  dir = makeTempDir();
  fs.chmodSync(dir, 0o755);
});

afterEach(async () => {
  if (peer?.listening) await new Promise<void>((r) => peer?.close(() => r()));
  peer = undefined;
  await fastifyApp?.close();
  fastifyApp = undefined;
  removeDir(dir);
});

function listen(server: PeerServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => resolve());
  });
}

function newPeer(name: string): { server: PeerServer; socketPath: string } {
  const socketPath = path.join(dir, name);
  peer = createPeerServer({ path: socketPath, mode: 0o666, identity: CONFIG, logger: silentLogger });
  return { server: peer, socketPath };
}

function curl(socketPath: string, url: string, prefix: string[] = []): Promise<string> {
  const args = ['-sS', '--max-time', '10', '--unix-socket', socketPath, url];
  return prefix.length ? run('setpriv', [...prefix, 'curl', ...args]) : run('curl', args);
}

function expressApp() {
  const app = express();
  app.use(peerauth());
  app.get('/whoami', (req, res) => {
    res.json({
      uid: unix(req.peer).uid,
      username: unix(req.peer).username,
      role: req.peer.role,
      context: unix(currentIdentity()).uid,
    });
  });
  return app;
}

async function fastifyThrough(server: PeerServer): Promise<FastifyInstance> {
  const app = Fastify({
    serverFactory: (handler) => {
      const httpServer = http.createServer(handler);
      serveHttp(server, httpServer);
      return httpServer;
    },
  });
  await app.register(peerauthPlugin);
  app.get('/whoami', async (request) => ({
    uid: unix(request.peer).uid,
    username: unix(request.peer).username,
    role: request.peer.role,
    context: unix(currentIdentity()).uid,
  }));
  await app.ready();
  fastifyApp = app;
  return app;
}

describe('HTTP over the peer socket', () => {
  it('node:http: peerOf(req) and currentIdentity() work, across keep-alive requests', async () => {
    const { server, socketPath } = newPeer('node.sock');
    const httpServer = http.createServer((req, res) => {
      const identity = peerOf(req);
      res.end(
        JSON.stringify({
          uid: unix(identity).uid,
          pid: unix(identity).pid,
          context: currentIdentity() === identity,
        }),
      );
    });
    serveHttp(server, httpServer);
    await listen(server);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ socketPath, path: '/', agent }, (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    const first = JSON.parse(await get());
    const second = JSON.parse(await get());
    agent.destroy();
    expect(first).toEqual({ uid: process.getuid?.(), pid: process.pid, context: true });
    expect(second).toEqual(first);
  });

  it('Express: curl --unix-socket sees its own identity', async () => {
    const { server, socketPath } = newPeer('express.sock');
    serveHttp(server, http.createServer(expressApp()));
    await listen(server);
    const body = JSON.parse(await curl(socketPath, 'http://localhost/whoami'));
    expect(body).toMatchObject({ uid: process.getuid?.(), role: 'guest', context: process.getuid?.() });
  });

  it('Fastify (serverFactory): curl --unix-socket sees its own identity', async () => {
    const { server, socketPath } = newPeer('fastify.sock');
    await fastifyThrough(server);
    await listen(server);
    const body = JSON.parse(await curl(socketPath, 'http://localhost/whoami'));
    expect(body).toMatchObject({ uid: process.getuid?.(), role: 'guest', context: process.getuid?.() });
  });

  it('requests that did not come through peerauth get 403 (Express and Fastify)', async () => {
    const plainExpress = http.createServer(expressApp());
    await new Promise<void>((r) => plainExpress.listen(0, '127.0.0.1', () => r()));
    const port = (plainExpress.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/whoami`);
    expect(res.status).toBe(403);
    await new Promise((r) => plainExpress.close(r));

    const app = Fastify();
    await app.register(peerauthPlugin);
    app.get('/whoami', async () => 'should not be reached');
    const reply = await app.inject({ method: 'GET', url: '/whoami' });
    expect(reply.statusCode).toBe(403);
    await app.close();
  });

  it('behind the adapters req.peer / request.peer is typed Identity, no assertion needed', () => {
    expectTypeOf<express.Request['peer']>().toEqualTypeOf<Identity>();
    expectTypeOf<FastifyRequest['peer']>().toEqualTypeOf<Identity>();
  });

  it('Fastify { required: false }: requests without an identity pass; request.peer throws NoIdentityError', async () => {
    const app = Fastify();
    await app.register(peerauthPlugin, { required: false });
    app.get('/whoami', async (request) => {
      try {
        return { peer: unix(request.peer).uid };
      } catch (err) {
        return { peerOf: peerOf(request) ?? null, error: (err as NoIdentityError).code };
      }
    });
    const reply = await app.inject({ method: 'GET', url: '/whoami' });
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual({ peerOf: null, error: 'PEERAUTH_NO_IDENTITY' });
    await app.close();
  });

  it('closing the peer server releases idle keep-alive HTTP connections', async () => {
    const { server, socketPath } = newPeer('idle.sock');
    serveHttp(
      server,
      http.createServer((_req, res) => res.end('ok')),
    );
    await listen(server);
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get({ socketPath, path: '/', agent }, (res) => res.resume().on('end', () => resolve()))
        .on('error', reject);
    });
    // The keep-alive connection is idle now; close() must not wait for it forever.
    await new Promise<void>((r) => server.close(() => r()));
    agent.destroy();
    expect(fs.existsSync(socketPath)).toBe(false);
  });
});

describeAsRoot('HTTP clients as another user (root)', () => {
  beforeAll(() => {
    removeTestUser(CAROL.name);
    removeTestGroup('pasrv_carolg');
    createTestGroup('pasrv_carolg', CAROL.gid);
    createTestUser(CAROL.name, { uid: CAROL.uid, gid: CAROL.gid });
  });
  afterAll(() => {
    removeTestUser(CAROL.name);
    removeTestGroup('pasrv_carolg');
  });

  it('Express: curl as pasrv_carol sees Carol’s identity and role', async () => {
    const { server, socketPath } = newPeer('express-carol.sock');
    serveHttp(server, http.createServer(expressApp()));
    await listen(server);
    const out = await curl(socketPath, 'http://localhost/whoami', asUser(CAROL.uid, CAROL.gid, []));
    expect(JSON.parse(out)).toEqual({
      uid: CAROL.uid,
      username: CAROL.name,
      role: 'admin',
      context: CAROL.uid,
    });
  });

  it('Fastify: curl as pasrv_carol sees Carol’s identity and role', async () => {
    const { server, socketPath } = newPeer('fastify-carol.sock');
    await fastifyThrough(server);
    await listen(server);
    const out = await curl(socketPath, 'http://localhost/whoami', asUser(CAROL.uid, CAROL.gid, []));
    expect(JSON.parse(out)).toEqual({
      uid: CAROL.uid,
      username: CAROL.name,
      role: 'admin',
      context: CAROL.uid,
    });
  });
});
