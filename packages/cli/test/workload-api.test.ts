// serve, proxy and doctor with --workload-api, against real gRPC Workload API servers on Unix sockets
// (test-fixtures/workload-agent.ts) playing two machines' SPIRE agents: the server's agent hands the proxy its
// SVID and bundles; the remote caller takes its own SVID from its agent's stream with X509Source and makes a
// real HTTPS request; a Python upstream sees the stamps.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createX509Source, type X509Source } from '@peerauth/workload-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, DOMAIN_B, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { type AgentState, WorkloadAgent } from '../../../test-fixtures/workload-agent.js';
import { type RunningCli, runCli, runCliToExit, startCli, tempDir, waitFor, writeConfig } from './helpers.js';
import { identityHeadersOf } from './stamps.js';
import { type RecordingUpstream, startPythonUpstream } from './upstreams.js';

let certs: SvidCerts;
let dir: string;
let config: string;
/** The agent on the proxy's machine, and the one on the caller's machine. */
let serverAgent: WorkloadAgent;
let callerAgent: WorkloadAgent;

function state(leaf: { pem: string; key: string }, spiffeId: string, federated = true): AgentState {
  return {
    svids: [
      { spiffeId, chainPem: leaf.pem, keyPem: fs.readFileSync(leaf.key, 'utf8'), bundlePem: certs.rootA.pem },
    ],
    ...(federated ? { federated: { [DOMAIN_B]: certs.rootB.pem } } : {}),
  };
}

beforeAll(async () => {
  certs = createSvidCerts();
  dir = tempDir('pacli-wl-');
  config = writeConfig(dir, {
    roles: ['deployer', 'public'],
    fallbackRole: 'public',
    trustDomains: { [DOMAIN_A]: {} },
    people: [{ name: 'deploy', role: 'deployer', uids: [], spiffeIds: [`spiffe://${DOMAIN_A}/workload`] }],
  });
  serverAgent = new WorkloadAgent(
    path.join(dir, 'server-agent.sock'),
    state(certs.server, `spiffe://${DOMAIN_A}/peerauth-server`),
  );
  callerAgent = new WorkloadAgent(
    path.join(dir, 'caller-agent.sock'),
    state(certs.good, `spiffe://${DOMAIN_A}/workload`),
  );
  await serverAgent.start();
  await callerAgent.start();
}, 60_000);
afterAll(() => {
  serverAgent?.stop();
  callerAgent?.stop();
  certs?.cleanup();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function tlsPort(cli: RunningCli): number {
  const m = /with mutual TLS \(X\.509-SVIDs\) on 127\.0\.0\.1:(\d+)/.exec(cli.stdout());
  if (!m) throw new Error(`no TLS line in: ${cli.stdout()}`);
  return Number(m[1]);
}

/** An HTTPS GET presenting the caller's SVID as its agent sent it, trusting a.test's bundle from the same stream. */
function getWithSvid(
  source: X509Source,
  port: number,
  urlPath: string,
): Promise<{ status: number; body: string; served: X509Certificate }> {
  const svid = source.getSvid();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        cert: svid.certificatePem,
        key: svid.privateKeyPem,
        ca: source.getBundle(DOMAIN_A)!.authorities.map((a) => a.toString()),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body,
            served: new X509Certificate((res.socket as TLSSocket).getPeerCertificate().raw),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('peerauth proxy --workload-api', () => {
  let cli: RunningCli;
  let upstream: RecordingUpstream;
  let caller: X509Source;
  beforeAll(async () => {
    upstream = await startPythonUpstream('wsgiref');
    cli = await startCli(
      [
        'proxy',
        '--upstream',
        upstream.url,
        '--config',
        config,
        '--tls-listen',
        '127.0.0.1:0',
        '--workload-api',
        serverAgent.socketPath,
      ],
      path.join(dir, 'proxy.sock'),
    );
    caller = createX509Source({ endpoint: `unix://${callerAgent.socketPath}` });
    await caller.ready;
  });
  afterAll(async () => {
    caller?.close();
    await cli?.stop();
    await upstream?.close();
  });

  it('a remote caller whose SVID came from its agent’s stream is stamped with its person and SPIFFE ID', async () => {
    upstream.seen.length = 0;
    const r = await getWithSvid(caller, tlsPort(cli), '/remote');
    expect(r.status).toBe(200);
    expect(r.served.fingerprint256).toBe(new X509Certificate(certs.server.pem).fingerprint256);
    await waitFor(() => upstream.seen.length === 1);
    expect(identityHeadersOf(upstream.seen[0]!)).toEqual({
      'x-peerauth-person': ['deploy'],
      'x-peerauth-role': ['deployer'],
      'x-peerauth-spiffe-id': [`spiffe://${DOMAIN_A}/workload`],
      'x-peerauth-auth': ['x509-svid'],
      // The proxy sets the remote caller's address itself (any client-sent copy is dropped).
      'x-forwarded-for': ['127.0.0.1'],
      forwarded: ['for=127.0.0.1'],
    });
    expect(serverAgent.refusedWithoutHeader + callerAgent.refusedWithoutHeader).toBe(0);
  });

  it('both agents rotate: the proxy presents its new SVID at the next handshake and admits the caller’s new one', async () => {
    const nextServer = certs.issue(
      'server-next',
      certs.intermediateA,
      `URI:spiffe://${DOMAIN_A}/peerauth-server,IP:127.0.0.1`,
    );
    const nextCaller = certs.issue('caller-next', certs.intermediateA, `URI:spiffe://${DOMAIN_A}/workload`);
    const withIntermediate = (leaf: typeof nextServer) => ({
      pem: leaf.pem + certs.intermediateA.pem,
      key: leaf.key,
    });
    const rotated = new Promise<void>((resolve) => caller.once('update', () => resolve()));
    callerAgent.set(state(withIntermediate(nextCaller), `spiffe://${DOMAIN_A}/workload`));
    serverAgent.set(state(withIntermediate(nextServer), `spiffe://${DOMAIN_A}/peerauth-server`));
    await rotated;
    await waitFor(() => cli.stderr().includes('the Workload API rotated the server SVID'));
    upstream.seen.length = 0;
    const r = await getWithSvid(caller, tlsPort(cli), '/rotated');
    expect(r.status).toBe(200);
    expect(r.served.fingerprint256).toBe(new X509Certificate(nextServer.pem).fingerprint256);
    await waitFor(() => upstream.seen.length === 1);
    expect(identityHeadersOf(upstream.seen[0]!)['x-peerauth-person']).toEqual(['deploy']);
  });
});

describe('peerauth doctor --workload-api', () => {
  it('reports the agent reachable, the SVID’s ID and expiry, and each trust domain it holds', async () => {
    const r = await runCli([
      'doctor',
      '--socket',
      path.join(dir, 'doc.sock'),
      '--config',
      config,
      '--workload-api',
      callerAgent.socketPath,
    ]);
    const leaf = new X509Certificate(callerAgent.current!.svids[0]!.chainPem);
    const expiry = new Date(leaf.validTo).toISOString();
    expect(r.stdout).toContain(`agent       ${callerAgent.socketPath}: reachable`);
    expect(r.stdout).toContain(`svid        spiffe://${DOMAIN_A}/workload, expires ${expiry}`);
    expect(r.stdout).toContain(`bundles     ${DOMAIN_A} (own), ${DOMAIN_B} (federated)`);
    expect(r.code).toBe(0);
  });

  it('an agent that is not there is a problem with its code, and exit 1', async () => {
    const r = await runCli([
      'doctor',
      '--socket',
      path.join(dir, 'doc.sock'),
      '--workload-api',
      path.join(dir, 'no-agent.sock'),
    ]);
    expect(r.stdout).toMatch(/agent {7}.*no-agent\.sock: PROBLEM: PEERAUTH_WORKLOAD_UNAVAILABLE: /);
    expect(r.code).toBe(1);
  });
});

describe('--workload-api flags are checked before anything listens', () => {
  const cases: [string, string[], RegExp][] = [
    [
      '--workload-api without --tls-listen',
      ['--workload-api', '/run/a.sock'],
      /--workload-api need --tls-listen/,
    ],
    [
      '--workload-api with --svid-cert',
      ['--tls-listen', '127.0.0.1:0', '--workload-api', '/run/a.sock', '--svid-cert', 'c'],
      /leave out --svid-cert/,
    ],
    [
      'no trust domain at all',
      ['--tls-listen', '127.0.0.1:0', '--workload-api', '/run/a.sock'],
      /--trust-domain NAME/,
    ],
    [
      '--trust-domain without --workload-api',
      ['--tls-listen', '127.0.0.1:0', '--svid-cert', 'c', '--svid-key', 'k', '--trust-domain', 'a.test'],
      /--trust-domain goes with --workload-api/,
    ],
  ];
  it.each(cases)('%s', async (_what, args, message) => {
    const socket = path.join(dir, 'never.sock');
    const r = await runCliToExit(['serve', '--socket', socket, ...args]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('serve --trust-domain names the domain callers may come from', async () => {
    const socket = path.join(dir, 'serve-td.sock');
    const cli = await startCli(
      [
        'serve',
        '--tls-listen',
        '127.0.0.1:0',
        '--workload-api',
        serverAgent.socketPath,
        '--trust-domain',
        DOMAIN_A,
      ],
      socket,
    );
    try {
      expect(tlsPort(cli)).toBeGreaterThan(0);
    } finally {
      await cli.stop();
    }
  });
});
