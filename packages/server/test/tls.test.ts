// The mutual-TLS listener, end to end on 127.0.0.1: real openssl-made SVIDs per trust domain, real TLS
// handshakes from Node's tls.connect, curl and openssl s_client, and the same admission path (policy, audit,
// peerOf) as a Unix peer. Each refusal names the X.509-SVID rule that failed.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Identity } from '@peerauth/identity';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../../test-fixtures/run.js';
import {
  type CertFiles,
  createSvidCerts,
  curlSvidArgs,
  DOMAIN_A,
  DOMAIN_B,
  type SvidCerts,
} from '../../../test-fixtures/svid-certs.js';
import {
  createPeerServer,
  InvalidServerOptionError,
  type PeerServer,
  type PeerServerOptions,
  peerOf,
  type RejectedEvent,
  serveHttp,
  type TlsListenOptions,
  TlsMaterialError,
} from '../src/index.js';
import { type LogRecord, makeTempDir, recordingLogger, removeDir, unix, waitFor } from './helpers.js';

let certs: SvidCerts;
beforeAll(() => {
  certs = createSvidCerts();
}, 60_000);
afterAll(() => certs?.cleanup());

interface Started {
  server: PeerServer;
  port: number;
  socketPath: string;
  dir: string;
  peers: Identity[];
  rejected: RejectedEvent[];
  records: LogRecord[];
  /** The files the server reads: copies, so a test may rewrite them. */
  files: { cert: string; key: string; bundleA: string; bundleB: string };
}

const running: Started[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    removeDir(s.dir);
  }
});

function identityConfig(files: Started['files'], domains: string[]) {
  return {
    fallbackRole: 'guest',
    roles: ['admin', 'guest'],
    people: [
      {
        name: 'alice',
        role: 'admin',
        uids: [process.getuid!()],
        spiffeIds: [`spiffe://${DOMAIN_A}/workload`],
      },
    ],
    trustDomains: Object.fromEntries(
      domains.map((d) => [d, { bundle: d === DOMAIN_A ? files.bundleA : files.bundleB }]),
    ),
  };
}

async function start(
  opts: {
    domains?: string[];
    server?: Partial<PeerServerOptions>;
    echo?: boolean;
    pollMs?: number;
    /** Bundle files to copy in place of bundle A's and B's. */
    bundles?: { a?: string; b?: string };
  } = {},
): Promise<Started> {
  const dir = makeTempDir('patls-');
  const files = {
    cert: path.join(dir, 'svid.pem'),
    key: path.join(dir, 'svid_key.pem'),
    bundleA: path.join(dir, 'bundle-a.pem'),
    bundleB: path.join(dir, 'bundle-b.pem'),
  };
  fs.copyFileSync(certs.server.cert, files.cert);
  fs.copyFileSync(certs.server.key, files.key);
  fs.copyFileSync(opts.bundles?.a ?? certs.bundleA, files.bundleA);
  fs.copyFileSync(opts.bundles?.b ?? certs.bundleB, files.bundleB);
  const logger = recordingLogger();
  const peers: Identity[] = [];
  const rejected: RejectedEvent[] = [];
  const socketPath = path.join(dir, 's.sock');
  const server = createPeerServer({
    path: socketPath,
    identity: identityConfig(files, opts.domains ?? [DOMAIN_A, DOMAIN_B]),
    logger,
    tls: { host: '127.0.0.1', port: 0, certFile: files.cert, keyFile: files.key, pollMs: opts.pollMs ?? 200 },
    ...opts.server,
  });
  server.on('rejected', (e: RejectedEvent) => rejected.push(e));
  if (opts.echo !== false) {
    server.on('peer', (socket, identity) => {
      peers.push(identity);
      expect(peerOf(socket)).toBe(identity);
      socket.write(
        `${JSON.stringify({ auth: identity.auth, spiffeId: identity.spiffeId, role: identity.role })}\n`,
      );
      socket.on('data', (d) => socket.write(d));
      socket.on('end', () => socket.end());
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => resolve());
  });
  const started = {
    server,
    port: server.tlsAddress()!.port,
    socketPath,
    dir,
    peers,
    rejected,
    records: logger.records,
    files,
  };
  running.push(started);
  return started;
}

interface TlsResult {
  /** The server's first line (its view of the caller); null when the connection ended without one. */
  line: Record<string, string> | null;
  /** The URI SAN of the certificate the server presented. */
  serverId: string | undefined;
  socket: tls.TLSSocket;
}

/** Connects with `client` (cert + key, or none), trusting bundle A's root for the server; reads one line. */
function connectTls(
  port: number,
  client: CertFiles | { cert: string; key: string } | null,
  ca = certs.rootA.pem,
): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca,
      ...(client ? { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) } : {}),
    });
    let buffered = '';
    let done = false;
    const finish = (line: Record<string, string> | null) => {
      if (done) return;
      done = true;
      const san = socket.getPeerCertificate()?.subjectaltname ?? '';
      resolve({ line, serverId: /URI:([^,]+)/.exec(san)?.[1], socket });
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buffered += d;
      const nl = buffered.indexOf('\n');
      if (nl !== -1) finish(JSON.parse(buffered.slice(0, nl)));
    });
    socket.on('close', () => finish(null));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A refusal after the handshake reaches a TLS 1.3 client as a reset or an early close.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(null);
      else if (!done) reject(err);
    });
  });
}

/** A line sent on an open connection comes back: the connection is alive. */
function echo(socket: tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: string) => {
      got += d;
      if (got.includes(text)) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

function chainFile(dir: string, name: string, ...parts: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, parts.map((p) => fs.readFileSync(p, 'utf8')).join(''));
  return file;
}

function audits(records: LogRecord[], decision: string): Record<string, unknown>[] {
  return records
    .filter((r) => r.obj.event === 'peerauth.connection' && r.obj.decision === decision)
    .map((r) => r.obj);
}

/** Atomically puts `text` at `file`, as spiffe-helper's writers and most rotation tools do. */
function replaceFile(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

describe('a remote caller with an X.509-SVID', () => {
  it('is admitted with the same person and role as its Unix-socket self, and audited as x509-svid', async () => {
    const s = await start();
    const remote = await connectTls(s.port, certs.good);
    expect(remote.serverId).toBe(`spiffe://${DOMAIN_A}/peerauth-server`);
    expect(remote.line).toEqual({
      auth: 'x509-svid',
      spiffeId: `spiffe://${DOMAIN_A}/workload`,
      role: 'admin',
    });
    expect(await echo(remote.socket, 'still here\n')).toContain('still here');
    const [identity] = s.peers;
    expect(identity).toMatchObject({
      auth: 'x509-svid',
      trustDomain: DOMAIN_A,
      person: { name: 'alice' },
      fallback: false,
    });
    expect(identity).not.toHaveProperty('uid');

    // The same person over the Unix socket, by uid.
    const local = net.connect(s.socketPath);
    await waitFor(() => s.peers.length === 2);
    expect(unix(s.peers[1]).person?.name).toBe('alice');
    local.destroy();

    remote.socket.end();
    await waitFor(() => audits(s.records, 'closed').length === 2);
    const closed = audits(s.records, 'closed').find((e) => e.auth === 'x509-svid')!;
    expect(closed).toMatchObject({
      auth: 'x509-svid',
      spiffeId: `spiffe://${DOMAIN_A}/workload`,
      person: 'alice',
      role: 'admin',
      peerUid: null,
      peerPid: null,
      reason: null,
    });
    expect(closed.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(audits(s.records, 'closed').find((e) => e.auth === 'unix')).toMatchObject({
      peerUid: process.getuid!(),
    });
  });

  it('through an intermediate it sends along; without it the chain does not verify', async () => {
    const s = await start();
    const withIntermediate = {
      cert: chainFile(s.dir, 'via.pem', certs.goodViaIntermediate.cert, certs.intermediateA.cert),
      key: certs.goodViaIntermediate.key,
    };
    const ok = await connectTls(s.port, withIntermediate);

    expect(ok.line).toEqual({
      auth: 'x509-svid',
      spiffeId: `spiffe://${DOMAIN_A}/via-intermediate`,
      role: 'guest',
    });
    ok.socket.destroy();

    const bare = await connectTls(s.port, certs.goodViaIntermediate);
    expect(bare.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_CHAIN_UNVERIFIED');
  });

  it.each([
    ['two URI SANs', 'twoUris', 'PEERAUTH_SVID_MULTIPLE_URI_SANS'],
    ['no URI SAN', 'noUri', 'PEERAUTH_SVID_NO_URI_SAN'],
    ['a non-spiffe URI', 'notSpiffe', 'PEERAUTH_SVID_NOT_SPIFFE_ID'],
    ['a CA leaf', 'leafIsCa', 'PEERAUTH_SVID_LEAF_IS_CA'],
    ['keyCertSign on the leaf', 'keyCertSign', 'PEERAUTH_SVID_LEAF_KEY_USAGE'],
    ['an expired leaf', 'expired', 'PEERAUTH_SVID_EXPIRED'],
    [
      "domain A's ID signed by B's authority (both bundles trusted)",
      'signedByOtherDomain',
      'PEERAUTH_SVID_CHAIN_UNVERIFIED',
    ],
  ] as const)('is refused with %s', async (_what, leaf, code) => {
    const s = await start();
    const result = await connectTls(s.port, certs[leaf]);
    expect(result.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.peers).toEqual([]);
    expect(s.rejected[0]).toMatchObject({ auth: 'x509-svid', credentials: null, identity: null });
    expect(s.rejected[0]!.reason).toContain(code);
    const [line] = audits(s.records, 'rejected');
    expect(line).toMatchObject({ auth: 'x509-svid', peerUid: null });
    expect(String(line!.reason)).toContain(code);
    expect(line!.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  // Each of these is admitted by a path check written by hand and refused by OpenSSL (openssl verify and
  // go-spiffe agree): the listener takes OpenSSL's verdict on the path, then the SPIFFE rules on top.
  it.each([
    [
      'an a.test intermediate name-constrained to a.test minting spiffe://b.test/admin (shared root)',
      'nameConstrained',
      'permitted subtree violation',
    ],
    ['an unknown critical extension on the leaf', 'criticalLeaf', 'unhandled critical extension'],
    [
      'an unknown critical extension on an intermediate',
      'criticalIntermediate',
      'unhandled critical extension',
    ],
    ['a pathLenConstraint exceeded', 'pathLen', 'PATH_LENGTH_EXCEEDED'],
    ['a broken signature on the leaf', 'badSignature', 'CERT_SIGNATURE_FAILURE'],
  ] as const)('is refused with %s', async (_what, attack, opensslCode) => {
    const shared = attack === 'nameConstrained';
    const s = await start(shared ? { bundles: { a: certs.sharedBundle, b: certs.sharedBundle } } : {});
    const result = await connectTls(s.port, certs.attacks[attack]);
    expect(result.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.peers).toEqual([]);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_PATH_INVALID');
    expect(s.rejected[0]!.reason).toContain(opensslCode);
    expect(String(audits(s.records, 'rejected')[0]!.reason)).toContain(opensslCode);
  });

  it('is refused when its ID has no path (spiffe://a.test): the X509-SVID spec makes it a MUST', async () => {
    const s = await start();
    const bare = certs.issue('bare-id', certs.rootA, `URI:spiffe://${DOMAIN_A}`);
    const result = await connectTls(s.port, bare);
    expect(result.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_NO_PATH');
    expect(audits(s.records, 'rejected')[0]).toMatchObject({ spiffeId: `spiffe://${DOMAIN_A}` });
  });

  it('a peer no bundle vouches for is refused before this process checks any signature', async () => {
    // The costly shape: intermediates that share a name and a key, each a candidate issuer of every other.
    const crafted = certs.crafted(6, 2048);
    const s = await start();
    const verify = vi.spyOn(X509Certificate.prototype, 'verify');
    const checkIssued = vi.spyOn(X509Certificate.prototype, 'checkIssued');
    try {
      const refused = await connectTls(s.port, crafted);
      expect(refused.line).toBeNull();
      await waitFor(() => s.rejected.length === 1);
      expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_CHAIN_UNVERIFIED');
      expect(verify).not.toHaveBeenCalled();
      expect(checkIssued).not.toHaveBeenCalled();
      // A trusted peer's path is checked here too (its links and its domain), after OpenSSL's verdict.
      const ok = await connectTls(s.port, certs.good);
      expect(ok.line).toMatchObject({ role: 'admin' });
      expect(verify).toHaveBeenCalled();
      ok.socket.destroy();
    } finally {
      verify.mockRestore();
      checkIssued.mockRestore();
    }
  });

  it('keeps the certificate it was admitted with for the life of the connection: no TLS 1.2 renegotiation', async () => {
    const s = await start();
    const socket = tls.connect({
      host: '127.0.0.1',
      port: s.port,
      ca: certs.rootA.pem,
      cert: certs.good.pem,
      key: fs.readFileSync(certs.good.key),
      maxVersion: 'TLSv1.2',
    });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    await waitFor(() => s.peers.length === 1);
    // A renegotiation is a new handshake, which could carry another client certificate than the one verified.
    // OpenSSL's refusal reaches the client as an 'error' (EPROTO, "no renegotiation"), not in the callback.
    const err = await new Promise<Error | null>((resolve) => {
      socket.on('error', (e) => resolve(e));
      if (!socket.renegotiate({}, (e) => resolve(e))) resolve(new Error('not started'));
      socket.write('after renegotiation\n');
    });
    socket.destroy();
    expect(err?.message).toMatch(/no renegotiation/);
    // The peer certificate the application can read is still the one admission verified.
    expect(s.peers[0]).toMatchObject({ spiffeId: `spiffe://${DOMAIN_A}/workload` });
  });

  it("is refused when its trust domain's bundle is not configured (B's leaf, only A trusted)", async () => {
    const s = await start({ domains: [DOMAIN_A] });
    const b = await connectTls(s.port, certs.goodB);
    expect(b.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_UNTRUSTED_DOMAIN');
    expect(audits(s.records, 'rejected')[0]).toMatchObject({ spiffeId: `spiffe://${DOMAIN_B}/workload` });
    // With B trusted too, the same leaf is admitted.
    const both = await start();
    const ok = await connectTls(both.port, certs.goodB);
    expect(ok.line).toMatchObject({ spiffeId: `spiffe://${DOMAIN_B}/workload`, role: 'guest' });
    ok.socket.destroy();
  });

  it('is refused without a client certificate', async () => {
    const s = await start();
    const none = await connectTls(s.port, null);
    expect(none.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_EMPTY_CHAIN');
  });

  it('goes through the same policy: allowRoles and the admit hook see the remote identity', async () => {
    const asked: (string | null)[] = [];
    const s = await start({
      server: {
        allowRoles: ['admin'],
        admit: (identity, credentials) => {
          asked.push(credentials === null ? identity.spiffeId : `uid ${credentials.uid}`);
          return true;
        },
      },
    });
    const guest = await connectTls(s.port, certs.goodB);
    expect(guest.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]).toMatchObject({
      reason: 'role "guest" is not in allowRoles',
      identity: { auth: 'x509-svid' },
    });
    const admin = await connectTls(s.port, certs.good);
    expect(admin.line).toMatchObject({ role: 'admin' });
    admin.socket.destroy();
    expect(asked).toEqual([`spiffe://${DOMAIN_A}/workload`]);
  });

  it('a client that is not speaking TLS is refused with an audit line, and the server goes on', async () => {
    const s = await start();
    const plain = net.connect(s.port, '127.0.0.1');
    plain.on('error', () => {});
    plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toMatch(/^TLS handshake failed/);
    expect(audits(s.records, 'rejected')[0]).toMatchObject({ auth: 'x509-svid', durationMs: null });
    plain.destroy();
    const ok = await connectTls(s.port, certs.good);
    expect(ok.line).toMatchObject({ role: 'admin' });
    ok.socket.destroy();
  });
});

describe('other TLS clients', () => {
  it('curl --cert/--key/--cacert reaches an HTTP handler that reads peerOf(req)', async () => {
    const s = await start({ echo: false });
    const app = http.createServer((req, res) => {
      const identity = peerOf(req)!;
      res.end(
        JSON.stringify({ auth: identity.auth, spiffeId: identity.spiffeId, person: identity.person?.name }),
      );
    });
    serveHttp(s.server, app);
    const url = `https://127.0.0.1:${s.port}/whoami`;
    const good = await runCommand('curl', ['-sS', ...curlSvidArgs(certs), url]);
    expect(good.stderr).toBe('');
    expect(JSON.parse(good.stdout)).toEqual({
      auth: 'x509-svid',
      spiffeId: `spiffe://${DOMAIN_A}/workload`,
      person: 'alice',
    });
    const noCert = await runCommand('curl', ['-sS', '--cacert', certs.bundleA, url]);
    expect(noCert.code).not.toBe(0);
    expect(noCert.stdout).toBe('');
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_EMPTY_CHAIN');
  });

  it('openssl s_client with -cert/-key, verifying the server against the bundle', async () => {
    const s = await start();
    const child = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${s.port}`,
        '-cert',
        certs.good.cert,
        '-key',
        certs.good.key,
        '-CAfile',
        certs.bundleA,
        '-verify_return_error',
        '-quiet',
        '-no_ign_eof',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdin.write('ping from openssl\n');
    await waitFor(() => stdout.includes('ping from openssl')).catch((err) => {
      child.kill();
      throw new Error(`${err.message}; openssl said: ${stderr} ${stdout}`);
    });
    child.stdin.end();
    await new Promise((resolve) => child.on('close', resolve));
    const [first] = stdout.split('\n');
    expect(JSON.parse(first!)).toEqual({
      auth: 'x509-svid',
      spiffeId: `spiffe://${DOMAIN_A}/workload`,
      role: 'admin',
    });
  });
});

describe('SVID and bundle files change on disk', () => {
  it('a rotated server SVID serves new connections; open ones keep going; a broken file keeps the old one', async () => {
    const s = await start();
    const before = await connectTls(s.port, certs.good);
    expect(before.serverId).toBe(`spiffe://${DOMAIN_A}/peerauth-server`);

    const next = certs.issue(
      'server-next',
      certs.rootA,
      `URI:spiffe://${DOMAIN_A}/peerauth-server-next,IP:127.0.0.1`,
    );
    replaceFile(s.files.key, fs.readFileSync(next.key, 'utf8'));
    replaceFile(s.files.cert, next.pem);
    await waitFor(async () => (await probe(s.port)) === `spiffe://${DOMAIN_A}/peerauth-server-next`, 10_000);
    expect(await echo(before.socket, 'across rotation\n')).toContain('across rotation');
    expect(s.records.some((r) => r.msg === 'reloaded the server SVID')).toBe(true);

    // Half a file: refused, logged once, the rotated SVID stays in service.
    replaceFile(s.files.cert, next.pem.slice(0, 100));
    await waitFor(() => s.records.some((r) => r.level === 'warn' && r.obj.file === s.files.cert), 10_000);
    expect(await probe(s.port)).toBe(`spiffe://${DOMAIN_A}/peerauth-server-next`);
    // A certificate that does not go with the key: the key file is named.
    replaceFile(s.files.cert, certs.server.pem);
    await waitFor(() => s.records.some((r) => r.level === 'warn' && r.obj.file === s.files.key), 10_000);
    expect(await probe(s.port)).toBe(`spiffe://${DOMAIN_A}/peerauth-server-next`);
    before.socket.destroy();
  });

  it('a rotated bundle decides new connections; an open one stays; an unreadable bundle keeps the old', async () => {
    // No polling within the test: the directory watcher alone sees the rename and the in-place write.
    const s = await start({ pollMs: 600_000 });
    const open = await connectTls(s.port, certs.good);
    expect(open.line).toMatchObject({ role: 'admin' });

    const rootNext = certs.newRoot('root-a-next', DOMAIN_A);
    const leafNext = certs.issue('good-next', rootNext, `URI:spiffe://${DOMAIN_A}/workload`);
    replaceFile(s.files.bundleA, rootNext.pem);
    await waitFor(() => s.records.some((r) => r.msg === 'reloaded a trust bundle'), 10_000);
    const accepted = await connectTls(s.port, leafNext);
    expect(accepted.line).toMatchObject({ spiffeId: `spiffe://${DOMAIN_A}/workload`, role: 'admin' });
    accepted.socket.destroy();
    const old = await connectTls(s.port, certs.good);
    expect(old.line).toBeNull();
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toContain('PEERAUTH_SVID_CHAIN_UNVERIFIED');
    expect(await echo(open.socket, 'old authority, open connection\n')).toContain('old authority');

    fs.writeFileSync(s.files.bundleA, 'not a bundle');
    await waitFor(() => s.records.some((r) => r.level === 'warn' && r.obj.file === s.files.bundleA), 10_000);
    const still = await connectTls(s.port, leafNext);
    expect(still.line).toMatchObject({ role: 'admin' });
    still.socket.destroy();
    open.socket.destroy();
  });
});

/** The SPIFFE ID the server presents to a new connection now. */
async function probe(port: number): Promise<string | undefined> {
  const r = await connectTls(port, certs.good, [certs.rootA.pem].join(''));
  r.socket.destroy();
  return r.serverId;
}

/** A server in a fresh directory with trust domain A's bundle (or `bundle`) and the server SVID, overridable. */
function serverInDir(dir: string, tls: Partial<TlsListenOptions> = {}, bundle = certs.bundleA): PeerServer {
  return createPeerServer({
    path: path.join(dir, 's.sock'),
    logger: recordingLogger(),
    identity: { people: [], trustDomains: { [DOMAIN_A]: { bundle } } },
    tls: { host: '127.0.0.1', port: 0, certFile: certs.server.cert, keyFile: certs.server.key, ...tls },
  });
}

/** listen() and the first 'error' it emits. */
function listenError(server: PeerServer): Promise<Error> {
  return new Promise<Error>((resolve) => {
    server.once('error', resolve);
    server.listen();
  });
}

describe('the tls option and its files', () => {
  it('needs trust domains in the identity config, and a host and port', () => {
    const tlsOpts = { host: '127.0.0.1', port: 0, certFile: certs.server.cert, keyFile: certs.server.key };
    expect(() => createPeerServer({ tls: tlsOpts })).toThrow(InvalidServerOptionError);
    expect(() => createPeerServer({ tls: tlsOpts })).toThrow(/names no trustDomains/);
    const identity = { people: [], trustDomains: { [DOMAIN_A]: { bundle: certs.bundleA } } };
    expect(() => createPeerServer({ identity, tls: { ...tlsOpts, port: 70000 } })).toThrow(/tls\.port/);
    expect(() => createPeerServer({ identity, tls: { ...tlsOpts, host: '' } })).toThrow(/tls\.host/);
    expect(() => createPeerServer({ identity, tls: { ...tlsOpts, maxPendingHandshakes: 0 } })).toThrow(
      /tls\.maxPendingHandshakes/,
    );
    expect(() => createPeerServer({ identity, tls: { ...tlsOpts, handshakeTimeoutMs: 1.5 } })).toThrow(
      /tls\.handshakeTimeoutMs/,
    );
  });

  it('a client silent past handshakeTimeoutMs is dropped with an audit line; one over maxPendingHandshakes at once', async () => {
    const dir = makeTempDir('patls-gate-');
    const logger = recordingLogger();
    const server = createPeerServer({
      path: path.join(dir, 's.sock'),
      logger,
      identity: { people: [], trustDomains: { [DOMAIN_A]: { bundle: certs.bundleA } } },
      tls: {
        host: '127.0.0.1',
        port: 0,
        certFile: certs.server.cert,
        keyFile: certs.server.key,
        maxPendingHandshakes: 1,
        handshakeTimeoutMs: 300,
      },
    });
    try {
      await new Promise<void>((resolve) => server.listen(() => resolve()));
      const port = server.tlsAddress()!.port;
      const closes = (sock: net.Socket) => new Promise<void>((resolve) => sock.on('close', () => resolve()));
      const silent = net.connect({ host: '127.0.0.1', port });
      silent.on('error', () => {});
      await new Promise((resolve) => silent.once('connect', resolve));
      // The first one holds the only handshake slot: a second is closed at accept, with a line saying why.
      const second = net.connect({ host: '127.0.0.1', port });
      second.on('error', () => {});
      await closes(second);
      expect(logger.records.some((r) => r.obj.event === 'peerauth.tls.refused')).toBe(true);
      // The silent one is dropped at its handshake timeout, with its own audit line.
      await closes(silent);
      await waitFor(() => audits(logger.records, 'rejected').length === 1);
      expect(String(audits(logger.records, 'rejected')[0]!.reason)).toContain('ERR_TLS_HANDSHAKE_TIMEOUT');
      // Its slot is free again: a real client is admitted.
      const ok = tls.connect({
        host: '127.0.0.1',
        port,
        ca: certs.rootA.pem,
        cert: certs.good.pem,
        key: fs.readFileSync(certs.good.key),
      });
      ok.on('error', () => {});
      await waitFor(() => audits(logger.records, 'accepted').length === 1);
      expect(audits(logger.records, 'accepted')[0]).toMatchObject({
        spiffeId: `spiffe://${DOMAIN_A}/workload`,
      });
      ok.destroy();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      removeDir(dir);
    }
  });

  it.each([
    [
      'a missing certificate',
      (d: string) => ({ certFile: path.join(d, 'missing.pem') }),
      'missing.pem',
      /cannot read/,
    ],
    [
      'a key that does not go with the certificate',
      () => ({ keyFile: certs.good.key }),
      'good.key',
      /does not go with/,
    ],
    [
      'an expired certificate',
      () => ({ certFile: certs.expired.cert, keyFile: certs.expired.key }),
      'expired.pem',
      /expired/,
    ],
  ])('refuse to start with %s: no socket file is left', async (_what, change, file, message) => {
    const dir = makeTempDir('patls-');
    const socketPath = path.join(dir, 's.sock');
    const server = serverInDir(dir, change(dir));
    const err = await listenError(server);
    expect(err).toBeInstanceOf(TlsMaterialError);
    expect(err).toMatchObject({ code: 'PEERAUTH_TLS_MATERIAL' });
    expect(path.basename((err as TlsMaterialError).file)).toBe(file);
    expect(err.message).toMatch(message);
    expect(fs.existsSync(socketPath)).toBe(false);
    expect(server.tlsAddress()).toBeNull();
    removeDir(dir);
  });

  it('an unreadable bundle at start is refused naming the file', async () => {
    const dir = makeTempDir('patls-');
    const bundle = path.join(dir, 'bundle.pem');
    fs.writeFileSync(bundle, 'no certificates here');
    const err = await listenError(serverInDir(dir, {}, bundle));
    expect(err).toMatchObject({ code: 'PEERAUTH_TLS_MATERIAL', file: bundle });
    expect(err.message).toContain('no PEM CERTIFICATE block');
    removeDir(dir);
  });

  it('a TLS port in use is one error, and nothing is left listening', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    const dir = makeTempDir('patls-');
    const socketPath = path.join(dir, 's.sock');
    const server = serverInDir(dir, { port });
    const errors: NodeJS.ErrnoException[] = [];
    server.on('error', (err: NodeJS.ErrnoException) => errors.push(err));
    server.listen();
    await waitFor(() => errors.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.map((e) => e.code)).toEqual(['EADDRINUSE']);
    expect(fs.existsSync(socketPath)).toBe(false);
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    removeDir(dir);
  });

  it('close() stops both listeners and waits for TLS connections to end', async () => {
    const s = await start();
    running.splice(running.indexOf(s), 1);
    const open = await connectTls(s.port, certs.good);
    let closed = false;
    s.server.close(() => {
      closed = true;
    });
    const refused = await new Promise<string>((resolve) => {
      const c = net.connect(s.port, '127.0.0.1');
      c.on('connect', () => resolve('connected'));
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await echo(open.socket, 'draining\n')).toContain('draining');
    expect(closed).toBe(false);
    open.socket.end();
    await waitFor(() => closed);
    removeDir(s.dir);
  });
});
