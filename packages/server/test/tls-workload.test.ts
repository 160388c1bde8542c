// tls.workloadApi: the TLS listener's SVID and bundles from a real gRPC Workload API server on a Unix socket
// (test-fixtures/workload-agent.ts, playing the SPIRE agent with openssl-made SVIDs). Rotation reaches the
// next handshake while open connections keep going; a federated domain's bundle decides its own callers
// only; an agent restart keeps the material in service; option mistakes are typed errors.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { Identity } from '@peerauth/identity';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertFiles,
  createSvidCerts,
  DOMAIN_A,
  DOMAIN_B,
  type SvidCerts,
} from '../../../test-fixtures/svid-certs.js';
import { type AgentState, WorkloadAgent } from '../../../test-fixtures/workload-agent.js';
import {
  createPeerServer,
  InvalidServerOptionError,
  type PeerServer,
  type RejectedEvent,
} from '../src/index.js';
import { type LogRecord, makeTempDir, recordingLogger, removeDir, waitFor } from './helpers.js';

let certs: SvidCerts;
beforeAll(() => {
  certs = createSvidCerts();
}, 60_000);
afterAll(() => certs?.cleanup());

interface Started {
  server: PeerServer;
  agent: WorkloadAgent;
  port: number;
  dir: string;
  peers: Identity[];
  rejected: RejectedEvent[];
  records: LogRecord[];
}

const running: Started[] = [];
const sockets: tls.TLSSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of running.splice(0)) {
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    s.agent.stop();
    removeDir(s.dir);
  }
});

/** What the agent hands the server: its SVID (server leaf by default), a.test's bundle, maybe b.test's. */
function serverState(opts: { leaf?: CertFiles; bundleA?: string; federated?: boolean } = {}): AgentState {
  const leaf = opts.leaf ?? certs.server;
  return {
    svids: [
      {
        spiffeId: `spiffe://${DOMAIN_A}/peerauth-server`,
        chainPem: leaf.pem,
        keyPem: fs.readFileSync(leaf.key, 'utf8'),
        bundlePem: opts.bundleA ?? certs.rootA.pem,
      },
    ],
    ...(opts.federated === false ? {} : { federated: { [DOMAIN_B]: certs.rootB.pem } }),
  };
}

const config = {
  fallbackRole: 'guest',
  roles: ['admin', 'guest'],
  people: [{ name: 'alice', role: 'admin', uids: [], spiffeIds: [`spiffe://${DOMAIN_A}/workload`] }],
  trustDomains: { [DOMAIN_A]: {}, [DOMAIN_B]: {} },
};

async function start(state: AgentState): Promise<Started> {
  const dir = makeTempDir('patlsw-');
  const agent = new WorkloadAgent(path.join(dir, 'agent.sock'), state);
  await agent.start();
  const logger = recordingLogger();
  const peers: Identity[] = [];
  const rejected: RejectedEvent[] = [];
  const server = createPeerServer({
    path: path.join(dir, 's.sock'),
    identity: config,
    logger,
    tls: { host: '127.0.0.1', port: 0, workloadApi: agent.socketPath },
  });
  server.on('rejected', (e: RejectedEvent) => rejected.push(e));
  server.on('peer', (socket, identity) => {
    peers.push(identity);
    socket.write(`${JSON.stringify({ spiffeId: identity.spiffeId, role: identity.role })}\n`);
    socket.on('data', (d) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  const started = { server, agent, port: 0, dir, peers, rejected, records: logger.records };
  running.push(started);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => resolve());
  });
  started.port = server.tlsAddress()!.port;
  return started;
}

interface Result {
  line: { spiffeId: string; role: string } | null;
  /** The certificate the server presented. */
  served: X509Certificate | null;
  socket: tls.TLSSocket;
}

/** A TLS client presenting `client`, trusting `ca` for the server; reads the server's first line. */
function connect(port: number, client: CertFiles, ca = certs.rootA.pem): Promise<Result> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca,
      cert: client.pem,
      key: fs.readFileSync(client.key),
    });
    sockets.push(socket);
    let buffered = '';
    let done = false;
    const finish = (line: Result['line']) => {
      if (done) return;
      done = true;
      const raw = socket.getPeerCertificate()?.raw;
      resolve({ line, served: raw ? new X509Certificate(raw) : null, socket });
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buffered += d;
      const nl = buffered.indexOf('\n');
      if (nl !== -1) finish(JSON.parse(buffered.slice(0, nl)));
    });
    socket.on('close', () => finish(null));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(null);
      else if (!done) reject(err);
    });
  });
}

function echo(socket: tls.TLSSocket, text: string): Promise<void> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: string) => {
      got += d;
      if (got.includes(text)) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

const reasons = (s: Started) => s.rejected.map((r) => r.reason);

describe('tls.workloadApi', () => {
  it('serves the SVID from the agent and verifies each caller against its own trust domain’s bundle', async () => {
    const s = await start(serverState());
    const alice = await connect(s.port, certs.good);
    expect(alice.line).toEqual({ spiffeId: `spiffe://${DOMAIN_A}/workload`, role: 'admin' });
    expect(alice.served?.fingerprint256).toBe(new X509Certificate(certs.server.pem).fingerprint256);
    // A caller of the federated domain, verified against b.test's bundle from the agent.
    expect((await connect(s.port, certs.goodB)).line).toEqual({
      spiffeId: `spiffe://${DOMAIN_B}/workload`,
      role: 'guest',
    });
    // An a.test ID signed by b.test's authority: b.test's bundle is in service, and still it is refused.
    expect((await connect(s.port, certs.signedByOtherDomain)).line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(reasons(s)[0]).toContain('PEERAUTH_SVID_CHAIN_UNVERIFIED');
    expect(s.agent.accepted.FetchX509SVID).toBe(1);
  });

  it('rotation from the stream: the next handshake presents the new SVID and trusts the new authority; open connections go on', async () => {
    const s = await start(serverState());
    const open = await connect(s.port, certs.good);
    const nextRoot = certs.newRoot('root-a-rotated', DOMAIN_A);
    const nextServer = certs.issue(
      'server-rotated',
      nextRoot,
      `URI:spiffe://${DOMAIN_A}/peerauth-server,IP:127.0.0.1`,
    );
    const nextClient = certs.issue('client-rotated', nextRoot, `URI:spiffe://${DOMAIN_A}/workload`);
    // Before the rotation a caller from the new authority is refused.
    expect((await connect(s.port, nextClient)).line).toBeNull();
    s.agent.set(serverState({ leaf: nextServer, bundleA: certs.rootA.pem + nextRoot.pem }));
    await waitFor(() => s.records.some((r) => r.msg === 'the Workload API rotated the server SVID'));
    const fresh = await connect(s.port, nextClient, nextRoot.pem);
    expect(fresh.line).toEqual({ spiffeId: `spiffe://${DOMAIN_A}/workload`, role: 'admin' });
    expect(fresh.served?.fingerprint256).toBe(new X509Certificate(nextServer.pem).fingerprint256);
    // The old authority is still in the bundle, so its callers are too; the open connection kept its SVID.
    expect((await connect(s.port, certs.good, nextRoot.pem)).line?.role).toBe('admin');
    expect(open.served?.fingerprint256).toBe(new X509Certificate(certs.server.pem).fingerprint256);
    await echo(open.socket, 'still here\n');
  });

  it('a federated domain added and removed by the agent decides its callers from the next handshake', async () => {
    const s = await start(serverState({ federated: false }));
    expect((await connect(s.port, certs.goodB)).line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(reasons(s)[0]).toContain(`no bundle for trust domain "${DOMAIN_B}"`);
    expect(s.records.some((r) => r.level === 'warn' && String(r.obj.trustDomains) === DOMAIN_B)).toBe(true);
    s.agent.set(serverState({ federated: true }));
    await waitFor(
      () =>
        s.server.listening &&
        s.records.filter((r) => r.msg === 'trust bundles from the Workload API').length === 2,
    );
    const b = await connect(s.port, certs.goodB);
    expect(b.line?.spiffeId).toBe(`spiffe://${DOMAIN_B}/workload`);
    s.agent.set(serverState({ federated: false }));
    await waitFor(
      () => s.records.filter((r) => r.msg === 'trust bundles from the Workload API').length === 3,
    );
    expect((await connect(s.port, certs.goodB)).line).toBeNull();
    await echo(b.socket, 'admitted before the removal\n');
  });

  it('an agent restart: the material in service stays, and the server follows the agent once it is back', async () => {
    const s = await start(serverState());
    const open = await connect(s.port, certs.good);
    s.agent.stop();
    await waitFor(() =>
      s.records.some((r) => r.level === 'warn' && r.msg?.startsWith('Workload API problem') === true),
    );
    expect((await connect(s.port, certs.good)).line?.role).toBe('admin');
    const nextServer = certs.issue(
      'server-after-restart',
      certs.rootA,
      `URI:spiffe://${DOMAIN_A}/peerauth-server,IP:127.0.0.1`,
    );
    s.agent.set(serverState({ leaf: nextServer }));
    await s.agent.start();
    await waitFor(() => s.records.some((r) => r.msg === 'the Workload API rotated the server SVID'), 15_000);
    expect((await connect(s.port, certs.good)).served?.fingerprint256).toBe(
      new X509Certificate(nextServer.pem).fingerprint256,
    );
    await echo(open.socket, 'across the restart\n');
  });

  it('a start waits for the agent to hold an identity, and the log says why it waits', async () => {
    const dir = makeTempDir('patlsw-');
    const agent = new WorkloadAgent(path.join(dir, 'agent.sock'), null);
    await agent.start();
    const logger = recordingLogger();
    const server = createPeerServer({
      path: path.join(dir, 's.sock'),
      identity: config,
      logger,
      tls: { host: '127.0.0.1', port: 0, workloadApi: `unix://${agent.socketPath}` },
    });
    running.push({ server, agent, port: 0, dir, peers: [], rejected: [], records: logger.records });
    let listening = false;
    server.on('peer', (socket, identity) => socket.end(`${JSON.stringify({ role: identity.role })}\n`));
    server.listen(() => {
      listening = true;
    });
    await waitFor(() =>
      logger.records.some(
        (r) =>
          r.level === 'warn' && (r.obj.err as { code?: string })?.code === 'PEERAUTH_WORKLOAD_NO_IDENTITY',
      ),
    );
    expect(listening).toBe(false);
    expect(server.tlsAddress()).toBeNull();
    agent.set(serverState());
    // The source retries with its backoff (up to 10 s between attempts) and starts once the agent answers.
    await waitFor(() => listening, 20_000);
    expect((await connect(server.tlsAddress()!.port, certs.good)).line?.role).toBe('admin');
  }, 60_000);

  it('option mistakes are PEERAUTH_INVALID_SERVER_OPTION naming what to change', () => {
    const tlsOpts = { host: '127.0.0.1', port: 0 };
    expect(() =>
      createPeerServer({
        identity: config,
        tls: { ...tlsOpts, workloadApi: '/run/a.sock', certFile: 'c', keyFile: 'k' },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'PEERAUTH_INVALID_SERVER_OPTION',
        message: expect.stringContaining('not both'),
      }),
    );
    expect(() =>
      createPeerServer({
        identity: { ...config, trustDomains: { [DOMAIN_A]: { bundle: '/x.pem' } } },
        tls: { ...tlsOpts, workloadApi: '/run/a.sock' },
      }),
    ).toThrow(expect.objectContaining({ message: expect.stringContaining(`bundle file for ${DOMAIN_A}`) }));
    expect(() =>
      createPeerServer({ identity: config, tls: { ...tlsOpts, certFile: 'c', keyFile: 'k' } }),
    ).toThrow(InvalidServerOptionError);
    expect(() =>
      createPeerServer({ identity: config, tls: { ...tlsOpts, certFile: 'c', keyFile: 'k' } }),
    ).toThrow(/no bundle file for a\.test, b\.test/);
  });
});
