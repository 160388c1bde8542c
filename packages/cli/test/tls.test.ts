// serve and proxy with --tls-listen: the same person reached over the Unix socket and, from "another
// machine", over mutual TLS with an X.509-SVID; curl as both clients, a Python upstream as the proxy's.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSvidCerts,
  curlSvidArgs,
  DOMAIN_A,
  type SvidCerts,
} from '../../../test-fixtures/svid-certs.js';
import {
  curlJson,
  type RunningCli,
  run,
  runCliToExit,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from './helpers.js';
import { identityHeadersOf } from './stamps.js';
import { type RecordingUpstream, startPythonUpstream } from './upstreams.js';

let certs: SvidCerts;
let dir: string;
let config: string;

beforeAll(() => {
  certs = createSvidCerts();
  dir = tempDir('pacli-tls-');
  config = writeConfig(dir, {
    roles: ['deployer', 'public'],
    fallbackRole: 'public',
    // The flag's bundle takes the place of this path for the same domain.
    trustDomains: { [DOMAIN_A]: { bundle: '/nonexistent/bundle.pem' } },
    people: [
      {
        name: 'deploy',
        role: 'deployer',
        uids: [process.getuid!()],
        spiffeIds: [`spiffe://${DOMAIN_A}/workload`],
      },
    ],
  });
}, 60_000);
afterAll(() => {
  certs?.cleanup();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function tlsArgs(): string[] {
  return [
    '--config',
    config,
    '--tls-listen',
    '127.0.0.1:0',
    '--svid-cert',
    certs.server.cert,
    '--svid-key',
    certs.server.key,
    '--bundle',
    `${DOMAIN_A}=${certs.bundleA}`,
  ];
}

function tlsPort(cli: RunningCli): number {
  const m = /with mutual TLS \(X\.509-SVIDs\) on 127\.0\.0\.1:(\d+)/.exec(cli.stdout());
  if (!m) throw new Error(`no TLS line in: ${cli.stdout()}`);
  return Number(m[1]);
}

function curlTls(port: number, urlPath: string, extra: string[] = []) {
  return run('curl', ['-sS', ...curlSvidArgs(certs), ...extra, `https://127.0.0.1:${port}${urlPath}`]);
}

describe('peerauth serve --tls-listen', () => {
  let cli: RunningCli;
  beforeAll(async () => {
    cli = await startCli(['serve', ...tlsArgs()], path.join(dir, 'serve.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
  });

  it('one person, locally by uid and remotely by SVID; /whoami says how each was authenticated', async () => {
    const local = await curlJson(cli.socket, '/whoami');
    expect(local).toMatchObject({ uid: process.getuid!(), person: 'deploy', role: 'deployer' });
    const remote = await curlTls(tlsPort(cli), '/whoami');
    expect(remote.stderr).toBe('');
    expect(JSON.parse(remote.stdout)).toEqual({
      auth: 'x509-svid',
      spiffeId: `spiffe://${DOMAIN_A}/workload`,
      trustDomain: DOMAIN_A,
      person: 'deploy',
      role: 'deployer',
      fallback: false,
    });
  });

  it('a caller without a client certificate gets no answer and an audit line', async () => {
    const r = await run('curl', [
      '-sS',
      '--cacert',
      certs.bundleA,
      `https://127.0.0.1:${tlsPort(cli)}/whoami`,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    await waitFor(() => cli.stderr().includes('PEERAUTH_SVID_EMPTY_CHAIN'));
    const line = cli
      .stderr()
      .split('\n')
      .find((l) => l.includes('PEERAUTH_SVID_EMPTY_CHAIN'))!;
    expect(JSON.parse(line)).toMatchObject({ decision: 'rejected', auth: 'x509-svid', peerUid: null });
  });
});

describe('peerauth proxy --tls-listen', () => {
  let cli: RunningCli;
  let upstream: RecordingUpstream;
  beforeAll(async () => {
    upstream = await startPythonUpstream('wsgiref');
    cli = await startCli(['proxy', '--upstream', upstream.url, ...tlsArgs()], path.join(dir, 'proxy.sock'));
  });
  afterAll(async () => {
    await cli?.stop();
    await upstream?.close();
  });

  it('stamps a remote caller with person, role, SPIFFE ID, auth and its address, and strips every forged copy', async () => {
    upstream.seen.length = 0;
    const forged = [
      'X-Peerauth-Uid: 0',
      'X_Peerauth_Role: admin',
      'X-Peerauth-Auth: unix',
      'X-Peerauth-Spiffe-Id: spiffe://a.test/admin',
      'X-Forwarded-User: root',
      // A remote caller's own client-certificate and forwarding headers (Envoy/Istio XFCC and the like).
      'X-Forwarded-Client-Cert: By=spiffe://a.test/proxy;URI=spiffe://a.test/admin',
      'X-SSL-Client-S-DN: CN=admin',
      'X-Forwarded-For: 10.9.9.9',
      'Forwarded: for=10.9.9.9',
      'X-Real-IP: 10.9.9.9',
    ].flatMap((h) => ['-H', h]);
    const r = await curlTls(tlsPort(cli), '/remote', forged);
    expect(r.stdout).toBe('ok');
    await waitFor(() => upstream.seen.length === 1);
    expect(identityHeadersOf(upstream.seen[0]!)).toEqual({
      'x-peerauth-person': ['deploy'],
      'x-peerauth-role': ['deployer'],
      'x-peerauth-spiffe-id': [`spiffe://${DOMAIN_A}/workload`],
      'x-peerauth-auth': ['x509-svid'],
      // Set by the proxy from the TCP connection; every client copy was dropped.
      'x-forwarded-for': ['127.0.0.1'],
      forwarded: ['for=127.0.0.1'],
    });
  });

  it('a local caller through the same proxy is stamped X-Peerauth-Auth: unix with its kernel ids', async () => {
    upstream.seen.length = 0;
    const r = await run('curl', [
      '-sS',
      '-H',
      'X-Peerauth-Auth: x509-svid',
      '--unix-socket',
      cli.socket,
      'http://localhost/local',
    ]);
    expect(r.stdout).toBe('ok');
    await waitFor(() => upstream.seen.length === 1);
    const got = identityHeadersOf(upstream.seen[0]!);
    expect(got['x-peerauth-auth']).toEqual(['unix']);
    expect(got['x-peerauth-uid']).toEqual([String(process.getuid!())]);
    expect(got['x-peerauth-person']).toEqual(['deploy']);
  });
});

describe('the TLS flags are checked before anything listens', () => {
  const cases: [string, string[], RegExp, number][] = [
    ['--svid-cert without --tls-listen', ['--svid-cert', 'x.pem'], /--svid-cert need --tls-listen/, 2],
    [
      '--tls-listen without the SVID',
      ['--tls-listen', '127.0.0.1:0'],
      /--svid-cert FILE and --svid-key FILE/,
      2,
    ],
    ['a --tls-listen that is not HOST:PORT', ['--tls-listen', '8443'], /must be HOST:PORT/, 2],
    [
      'a --bundle without =',
      ['--tls-listen', '127.0.0.1:0', '--svid-cert', 'c', '--svid-key', 'k', '--bundle', 'a.test'],
      /TRUST_DOMAIN=FILE/,
      2,
    ],
    [
      'no trust domain at all',
      ['--tls-listen', '127.0.0.1:0', '--svid-cert', 'c', '--svid-key', 'k'],
      /at least one trust domain/,
      2,
    ],
    [
      'an invalid trust domain',
      ['--tls-listen', '127.0.0.1:0', '--svid-cert', 'c', '--svid-key', 'k', '--bundle', 'A B=x.pem'],
      /--bundle: /,
      1,
    ],
  ];
  it.each(cases)('%s', async (_what, args, message, code) => {
    const socket = path.join(dir, 'never.sock');
    const r = await runCliToExit(['serve', '--socket', socket, ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('an unreadable SVID file fails the start with its code and names the file', async () => {
    const socket = path.join(dir, 'never.sock');
    const missing = path.join(dir, 'missing.pem');
    const r = await runCliToExit([
      'serve',
      '--socket',
      socket,
      '--tls-listen',
      '127.0.0.1:0',
      '--svid-cert',
      missing,
      '--svid-key',
      certs.server.key,
      '--bundle',
      `${DOMAIN_A}=${certs.bundleA}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`PEERAUTH_TLS_MATERIAL: TLS file ${missing}: cannot read`);
    expect(fs.existsSync(socket)).toBe(false);
  });
});
