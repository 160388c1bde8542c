// X509Source against a real gRPC Workload API server (test-fixtures/workload-agent.ts) on a Unix socket,
// holding SVIDs and bundles made by openssl: the first fetch, rotation mid-run, federated domains coming
// and going, the agent restarting, its refusals (no security header, no identity, a socket this uid may not
// open), and material the client must not take.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSvidCerts, DOMAIN_A, DOMAIN_B, type SvidCerts } from '../../../test-fixtures/svid-certs.js';
import { removeDir, tempDir } from '../../../test-fixtures/temp-dir.js';
import { waitFor } from '../../../test-fixtures/wait-for.js';
import { type AgentState, WorkloadAgent } from '../../../test-fixtures/workload-agent.js';
import {
  createX509Source,
  parseEndpoint,
  WorkloadApiError,
  workloadDefinition,
  type X509Context,
  type X509Source,
} from '../src/index.js';

let certs: SvidCerts;
beforeAll(() => {
  certs = createSvidCerts();
}, 60_000);
afterAll(() => certs?.cleanup());

const dirs: string[] = [];
const agents: WorkloadAgent[] = [];
const sources: X509Source[] = [];
afterEach(() => {
  for (const s of sources.splice(0)) s.close();
  for (const a of agents.splice(0)) a.stop();
  for (const d of dirs.splice(0)) removeDir(d);
});

/** What a SPIRE agent would hand the workload of `leaf`, optionally federated with b.test. */
function stateFor(leaf = certs.good, opts: { federated?: boolean; bundlePem?: string } = {}): AgentState {
  const id = new X509Certificate(leaf.pem).subjectAltName!.slice(4);
  return {
    svids: [
      {
        spiffeId: id,
        chainPem: leaf.pem,
        keyPem: fs.readFileSync(leaf.key, 'utf8'),
        bundlePem: opts.bundlePem ?? certs.rootA.pem,
      },
    ],
    ...(opts.federated ? { federated: { [DOMAIN_B]: certs.rootB.pem } } : {}),
  };
}

async function startAgent(state: AgentState | null): Promise<WorkloadAgent> {
  const dir = tempDir('pa-wl-');
  dirs.push(dir);
  const agent = new WorkloadAgent(path.join(dir, 'agent.sock'), state);
  agents.push(agent);
  await agent.start();
  return agent;
}

function source(agent: WorkloadAgent, options: Parameters<typeof createX509Source>[0] = {}): X509Source {
  const s = createX509Source({
    endpoint: `unix://${agent.socketPath}`,
    backoff: { initialMs: 20, maxMs: 200 },
    ...options,
  });
  sources.push(s);
  return s;
}

function nextUpdate(s: X509Source, until: (c: X509Context) => boolean): Promise<X509Context> {
  return new Promise((resolve) => {
    const on = (c: X509Context) => {
      if (!until(c)) return;
      s.off('update', on);
      resolve(c);
    };
    s.on('update', on);
  });
}

const fingerprints = (s: X509Source, td: string) => s.getBundle(td)?.authorities.map((a) => a.fingerprint256);

describe('X509Source', () => {
  it('first fetch: the SVID, its key and each trust domain’s bundle apart, over both streams with the header', async () => {
    const agent = await startAgent(stateFor(certs.good, { federated: true }));
    const s = source(agent);
    const context = await s.ready;
    expect(context.svid.spiffeId).toBe(`spiffe://${DOMAIN_A}/workload`);
    expect(s.getSvid().trustDomain).toBe(DOMAIN_A);
    expect(s.getSvid().certificates[0]!.fingerprint256).toBe(
      new X509Certificate(certs.good.pem).fingerprint256,
    );
    expect(fingerprints(s, DOMAIN_A)).toEqual([
      certs.rootA.pem && new X509Certificate(certs.rootA.pem).fingerprint256,
    ]);
    expect(fingerprints(s, DOMAIN_B)).toEqual([new X509Certificate(certs.rootB.pem).fingerprint256]);
    expect([...s.bundles.keys()].sort()).toEqual([DOMAIN_A, DOMAIN_B]);
    // What a TLS server takes: the PEM chain and key go together.
    expect(() =>
      tls.createSecureContext({ cert: s.getSvid().certificatePem, key: s.getSvid().privateKeyPem }),
    ).not.toThrow();
    await waitFor(() => agent.accepted.FetchX509Bundles === 1);
    expect(agent.accepted.FetchX509SVID).toBe(1);
    expect(agent.refusedWithoutHeader).toBe(0);
  });

  it('rotation mid-run: a new SVID and a new bundle reach the open source, and a new source gets them at once', async () => {
    const agent = await startAgent(stateFor());
    const s = source(agent);
    await s.ready;
    const nextRoot = certs.newRoot('root-a-next', DOMAIN_A);
    const nextLeaf = certs.issue('good-next', nextRoot, `URI:spiffe://${DOMAIN_A}/workload`);
    const nextFp = new X509Certificate(nextRoot.pem).fingerprint256;
    const updated = nextUpdate(
      s,
      (c) =>
        c.bundles.get(DOMAIN_A)?.authorities.some((a) => a.fingerprint256 === nextFp) === true &&
        c.svid.certificates[0]!.serialNumber !== undefined &&
        c.svid.certificatePem.includes(nextLeaf.pem.split('\n')[1]!),
    );
    // Both authorities while the old SVIDs still live, as SPIRE publishes a new key before using it.
    agent.set(stateFor(nextLeaf, { bundlePem: certs.rootA.pem + nextRoot.pem }));
    await updated;
    expect(s.getSvid().certificates[0]!.checkIssued(new X509Certificate(nextRoot.pem))).toBe(true);
    expect(s.getBundle(DOMAIN_A)!.authorities).toHaveLength(2);
    const fresh = source(agent);
    expect((await fresh.ready).svid.certificatePem).toBe(s.getSvid().certificatePem);
  });

  it('a federated trust domain added and removed keeps its own name and leaves the own domain alone', async () => {
    const agent = await startAgent(stateFor());
    const s = source(agent);
    await s.ready;
    expect(s.getBundle(DOMAIN_B)).toBeUndefined();
    const added = nextUpdate(s, (c) => c.bundles.has(DOMAIN_B));
    agent.set(stateFor(certs.good, { federated: true }));
    await added;
    expect(s.getBundle(DOMAIN_B)!.trustDomain).toBe(DOMAIN_B);
    expect(s.getBundle(DOMAIN_B)!.authorities.map((a) => a.subject)).toEqual([
      expect.stringContaining('root B'),
    ]);
    expect(s.getBundle(DOMAIN_A)!.authorities.map((a) => a.subject)).toEqual([
      expect.stringContaining('root A'),
    ]);
    const removed = nextUpdate(s, (c) => !c.bundles.has(DOMAIN_B));
    agent.set(stateFor());
    await removed;
    expect([...s.bundles.keys()]).toEqual([DOMAIN_A]);
  });

  it('an agent restart: the last SVID stays in service, the error is reported, and the source reconnects', async () => {
    const agent = await startAgent(stateFor());
    const s = source(agent);
    await s.ready;
    const errors: WorkloadApiError[] = [];
    s.on('error', (err) => errors.push(err));
    agent.stop();
    await waitFor(() => errors.length >= 2);
    expect(errors.every((e) => e.code === 'PEERAUTH_WORKLOAD_UNAVAILABLE')).toBe(true);
    expect(s.lastError?.code).toBe('PEERAUTH_WORKLOAD_UNAVAILABLE');
    expect(s.getSvid().spiffeId).toBe(`spiffe://${DOMAIN_A}/workload`);
    // The agent comes back with the workload's next SVID.
    const back = nextUpdate(s, (c) => c.svid.spiffeId === `spiffe://${DOMAIN_A}/via-intermediate`);
    agent.set(stateFor(certs.goodViaIntermediate));
    await agent.start();
    await back;
    expect(s.lastError).toBeNull();
    expect(agent.accepted.FetchX509SVID).toBe(2);
  });

  it('the test agent refuses a call without the security header, as SPIRE does', async () => {
    const agent = await startAgent(stateFor());
    const Client = grpc.loadPackageDefinition(workloadDefinition())
      .SpiffeWorkloadAPI as grpc.ServiceClientConstructor;
    const client = new Client(`unix://${agent.socketPath}`, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const call = (
          client as unknown as { FetchX509SVID: (r: object) => grpc.ClientReadableStream<unknown> }
        ).FetchX509SVID({});
        call.on('error', () => {});
        call.on('status', resolve);
      });
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toBe('security header missing from request');
      expect(agent.refusedWithoutHeader).toBe(1);
    } finally {
      client.close();
    }
  });

  it('no identity yet: ready waits, errors say PEERAUTH_WORKLOAD_NO_IDENTITY, and the registration arriving settles it', async () => {
    const agent = await startAgent(null);
    const s = source(agent);
    const errors: WorkloadApiError[] = [];
    s.on('error', (err) => errors.push(err));
    await waitFor(() => errors.length > 0);
    expect(errors[0]!.code).toBe('PEERAUTH_WORKLOAD_NO_IDENTITY');
    expect(errors[0]!.grpcCode).toBe(grpc.status.PERMISSION_DENIED);
    expect(() => s.getSvid()).toThrow(expect.objectContaining({ code: 'PEERAUTH_WORKLOAD_NO_IDENTITY' }));
    agent.set(stateFor());
    expect((await s.ready).svid.spiffeId).toBe(`spiffe://${DOMAIN_A}/workload`);
  });

  it('ready rejects with PEERAUTH_WORKLOAD_TIMEOUT naming the last problem, and the source closes', async () => {
    const agent = await startAgent(null);
    const s = source(agent, { readyTimeoutMs: 300 });
    const err = await s.ready.then(
      () => null,
      (e: WorkloadApiError) => e,
    );
    expect(err?.code).toBe('PEERAUTH_WORKLOAD_TIMEOUT');
    expect(err?.message).toContain('no identity issued');
    expect(s.closed).toBe(true);
  });

  it('close() before the first SVID rejects ready with PEERAUTH_WORKLOAD_CLOSED', async () => {
    const dir = tempDir('pa-wl-');
    dirs.push(dir);
    const s = createX509Source({ endpoint: path.join(dir, 'nobody.sock') });
    s.close();
    await expect(s.ready).rejects.toMatchObject({ code: 'PEERAUTH_WORKLOAD_CLOSED' });
    expect(() => s.getSvid()).toThrow(expect.objectContaining({ code: 'PEERAUTH_WORKLOAD_CLOSED' }));
  });

  it('a key that is not the certificate’s is refused and the previous SVID stays', async () => {
    const agent = await startAgent(stateFor());
    const s = source(agent);
    await s.ready;
    const errors: WorkloadApiError[] = [];
    s.on('error', (err) => errors.push(err));
    const wrong = stateFor();
    wrong.svids[0]!.keyPem = fs.readFileSync(certs.goodB.key, 'utf8');
    agent.set(wrong);
    await waitFor(() => errors.length > 0);
    expect(errors[0]!.code).toBe('PEERAUTH_WORKLOAD_INVALID_RESPONSE');
    expect(errors[0]!.message).toContain('does not go with its certificate');
    expect(s.getSvid().privateKeyPem).toBe(
      createPrivateKey(fs.readFileSync(certs.good.key)).export({ format: 'pem', type: 'pkcs8' }),
    );
  });

  it('an SVID whose certificate names another SPIFFE ID than spiffe_id is refused', async () => {
    const state = stateFor();
    state.svids[0]!.spiffeId = `spiffe://${DOMAIN_A}/someone-else`;
    const agent = await startAgent(state);
    const s = source(agent, { readyTimeoutMs: 500 });
    const errors: WorkloadApiError[] = [];
    s.on('error', (err) => errors.push(err));
    await expect(s.ready).rejects.toMatchObject({ code: 'PEERAUTH_WORKLOAD_TIMEOUT' });
    expect(errors[0]!.code).toBe('PEERAUTH_WORKLOAD_INVALID_RESPONSE');
  });

  it('an agent without FetchX509Bundles: the bundles sent with the SVID are used', async () => {
    const agent = await startAgent(stateFor(certs.good, { federated: true }));
    agent.bundlesUnimplemented = true;
    const s = source(agent);
    await s.ready;
    expect([...s.bundles.keys()].sort()).toEqual([DOMAIN_A, DOMAIN_B]);
    const removed = nextUpdate(s, (c) => !c.bundles.has(DOMAIN_B));
    agent.set(stateFor());
    await removed;
    expect(s.lastError).toBeNull();
  });

  it('hint picks the SVID among several', async () => {
    const state = stateFor();
    const other = stateFor(certs.goodViaIntermediate).svids[0]!;
    state.svids[0]!.hint = 'internal';
    state.svids.push({ ...other, chainPem: other.chainPem + certs.intermediateA.pem, hint: 'external' });
    const agent = await startAgent(state);
    const s = source(agent, { hint: 'external' });
    await s.ready;
    expect(s.getSvid().spiffeId).toBe(`spiffe://${DOMAIN_A}/via-intermediate`);
    expect(s.getSvid().certificates).toHaveLength(2);
    expect(s.getSvids().map((v) => v.hint)).toEqual(['internal', 'external']);
  });

  // Another uid comes from setpriv (util-linux, Linux only), and only root may switch to it.
  describe.skipIf(process.platform !== 'linux' || process.getuid?.() !== 0)(
    'a socket this uid may not open (root: runs the client as uid 65534)',
    () => {
      const dist = path.resolve(import.meta.dirname, '../dist/index.js');
      const asNobody = (script: string) =>
        spawnSync(
          'setpriv',
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            '--input-type=module',
            '-e',
            script,
          ],
          { encoding: 'utf8' },
        );
      it('is PEERAUTH_WORKLOAD_PERMISSION_DENIED', async (ctx) => {
        // A checkout in a directory only its owner may enter (a clone under /root) cannot be loaded by uid
        // 65534: then there is nothing to run as that user.
        const probe = asNobody(`await import(${JSON.stringify(dist)}); console.log('LOADED');`);
        if (probe.stdout.trim() !== 'LOADED') {
          console.log(
            `skipped: uid 65534 cannot load ${dist} from this checkout (${probe.stderr.split('\n')[0]})`,
          );
          ctx.skip();
        }
        const agent = await startAgent(stateFor());
        fs.chmodSync(path.dirname(agent.socketPath), 0o755);
        fs.chmodSync(agent.socketPath, 0o600);
        const out = asNobody(`
          import { createX509Source } from ${JSON.stringify(dist)};
          const s = createX509Source({ endpoint: ${JSON.stringify(agent.socketPath)}, readyTimeoutMs: 2000 });
          s.ready.then(() => console.log('READY'), (e) => console.log(e.code, e.cause?.code));`);
        expect(out.stdout.trim()).toBe('PEERAUTH_WORKLOAD_TIMEOUT PEERAUTH_WORKLOAD_PERMISSION_DENIED');
      });
    },
  );
});

describe('parseEndpoint', () => {
  it.each([
    ['unix:///run/spire/agent/public/api.sock', 'unix:///run/spire/agent/public/api.sock'],
    ['/run/spire/api.sock', 'unix:///run/spire/api.sock'],
    ['tcp://127.0.0.1:8081', 'ipv4:127.0.0.1:8081'],
    ['tcp://[::1]:8081', 'ipv6:[::1]:8081'],
  ])('%s → %s', (given, target) => {
    expect(parseEndpoint(given).target).toBe(target);
  });

  it.each([
    ['unix://host/run/api.sock', 'names no host'],
    ['unix:relative.sock', 'absolute'],
    ['tcp://localhost:8081', 'IP address'],
    ['tcp://127.0.0.1', 'tcp://IP:PORT'],
    ['http://127.0.0.1:80', 'neither unix: nor tcp:'],
    ['unix:///run/api.sock?x=1', 'no user, query or fragment'],
    ['api.sock', 'expected unix:'],
  ])('%s is PEERAUTH_WORKLOAD_BAD_ENDPOINT (%s)', (given, says) => {
    expect(() => parseEndpoint(given)).toThrow(
      expect.objectContaining({
        code: 'PEERAUTH_WORKLOAD_BAD_ENDPOINT',
        message: expect.stringContaining(says),
      }),
    );
    expect(() => createX509Source({ endpoint: given })).toThrow(WorkloadApiError);
  });

  it('reads SPIFFE_ENDPOINT_SOCKET when no endpoint is given, and says so when it is unset too', () => {
    expect(parseEndpoint(undefined, { SPIFFE_ENDPOINT_SOCKET: 'unix:///a.sock' }).socketPath).toBe('/a.sock');
    expect(() => parseEndpoint(undefined, {})).toThrow(
      expect.objectContaining({ message: expect.stringContaining('SPIFFE_ENDPOINT_SOCKET') }),
    );
  });
});
