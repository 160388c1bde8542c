// serve and proxy with --tls-listen: the same person reached over the Unix socket and, from "another
// machine", over mutual TLS with an X.509-SVID; curl as both clients, a Python upstream as the proxy's.
import fs from 'node:fs';
import net from 'node:net';
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
  repoRoot,
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
    expect(r.timedOut, r.stderr).toBeUndefined();
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
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`PEERAUTH_TLS_MATERIAL: TLS file ${missing}: cannot read`);
    expect(fs.existsSync(socket)).toBe(false);
  });
});

describe('a client of a server whose SVID has only a URI SAN (as SPIRE issues them)', () => {
  let cli: RunningCli;
  beforeAll(async () => {
    const args = tlsArgs().map((a) => (a === certs.server.cert ? certs.serverUriOnly.cert : a));
    cli = await startCli(
      ['serve', ...args.map((a) => (a === certs.server.key ? certs.serverUriOnly.key : a))],
      path.join(dir, 'urionly.sock'),
    );
  });
  afterAll(async () => {
    await cli?.stop();
  });

  it("fails curl's host-name check (error 60), and the server README's Node recipe works as printed", async () => {
    const port = tlsPort(cli);
    const curl = await curlTls(port, '/whoami');
    expect(curl.code).toBe(60);

    const readme = fs.readFileSync(path.join(repoRoot, 'packages/server/README.md'), 'utf8');
    const block = /```mjs\n([\s\S]*?)```/.exec(readme)![1]!;
    const sub = fs.mkdtempSync(path.join(dir, 'recipe-'));
    // The client's files, as its spiffe-helper would name them.
    fs.copyFileSync(certs.bundleA, path.join(sub, 'svid_bundle.pem'));
    fs.copyFileSync(certs.good.cert, path.join(sub, 'svid.pem'));
    fs.copyFileSync(certs.good.key, path.join(sub, 'svid_key.pem'));
    const code = block
      .replace("'/run/peerauth/svid'", JSON.stringify(sub))
      .replace('spiffe://prod.example.org/peerauth', `spiffe://${DOMAIN_A}/peerauth-server`)
      .replace('https://peerauth.example.org:8443', `https://127.0.0.1:${port}`);
    fs.writeFileSync(path.join(sub, 'client.mjs'), code);
    const ok = await run(process.execPath, [path.join(sub, 'client.mjs')]);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toMatchObject({
      spiffeId: `spiffe://${DOMAIN_A}/workload`,
      person: 'deploy',
    });

    // A server with another SPIFFE ID is refused by the recipe's check.
    fs.writeFileSync(path.join(sub, 'other.mjs'), code.replace('/peerauth-server', '/someone-else'));
    const refused = await run(process.execPath, [path.join(sub, 'other.mjs')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`the server is URI:spiffe://${DOMAIN_A}/peerauth-server`);
  });
});

describe('peerauth check-config and the SVID rules', () => {
  function configWith(name: string, trustDomains: Record<string, { bundle: string }>): string {
    const sub = fs.mkdtempSync(path.join(dir, `${name}-`));
    return writeConfig(sub, { trustDomains, people: [{ name: 'ops', role: 'admin' }] });
  }

  it('loads every bundle of trustDomains and names each unusable file with what is wrong', async () => {
    const missing = path.join(dir, 'missing-bundle.pem');
    const file = configWith('bundles', {
      [DOMAIN_A]: { bundle: '/etc/passwd' },
      'b.test': { bundle: missing },
      'c.test': { bundle: certs.bundleB },
    });
    const r = await runCliToExit(['check-config', file]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bundle a\.test +\/etc\/passwd: PROBLEM/);
    expect(r.stderr).toContain('no PEM CERTIFICATE block');
    expect(r.stderr).toContain(`${missing}: PROBLEM`);
    expect(r.stderr).toContain('cannot read (ENOENT');
    // c.test's file holds b.test's root: usable, with a warning on how to split it.
    expect(r.stderr).toContain(`${certs.bundleB}: ok, 1 authority`);
    expect(r.stderr).toMatch(
      /warning: the bundle for c\.test also holds authorities of other trust domains: b\.test/,
    );
  });

  it.each([
    [
      'a key that does not go with the certificate',
      () => [certs.server.cert, certs.good.key],
      'does not go with',
    ],
    ['an expired certificate', () => [certs.expired.cert, certs.expired.key], 'expired'],
    ['a certificate without a URI SAN', () => [certs.noUri.cert, certs.noUri.key], 'no URI SAN'],
    ['a key file that is not PEM', () => [certs.server.cert, '/etc/passwd'], 'does not go with'],
  ])('--svid-cert/--svid-key: %s is a problem naming the file', async (_what, pair, message) => {
    const [cert, key] = pair();
    const file = configWith('svid', { [DOMAIN_A]: { bundle: certs.bundleA } });
    const r = await runCliToExit(['check-config', file, '--svid-cert', cert!, '--svid-key', key!]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`(${cert}|${key}): PROBLEM`));
    expect(r.stderr).toContain(message);
  });

  it('a usable SVID whose key others can read, and a merged bundle: ok with warnings, in check-config, doctor and serve', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'warn-'));
    const key = path.join(sub, 'svid_key.pem');
    fs.copyFileSync(certs.server.key, key);
    fs.chmodSync(key, 0o644);
    const merged = path.join(sub, 'svid_bundle.pem');
    fs.writeFileSync(merged, certs.rootA.pem + certs.rootB.pem);
    const file = writeConfig(sub, {
      trustDomains: { [DOMAIN_A]: { bundle: merged } },
      people: [{ name: 'ops', role: 'admin' }],
    });
    const r = await runCliToExit(['check-config', file, '--svid-cert', certs.server.cert, '--svid-key', key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${certs.server.cert}: ok, spiffe://${DOMAIN_A}/peerauth-server, valid until`);
    expect(r.stdout).toContain(
      `warning: the private key is readable by every user (mode 0644); chmod 600 ${key}`,
    );
    expect(r.stdout).toContain(
      `the bundle for ${DOMAIN_A} also holds authorities of other trust domains: b.test`,
    );
    expect(r.stdout).toContain(`Split ${merged} into one file per trust domain`);

    const d = await runCliToExit([
      'doctor',
      '--config',
      file,
      '--svid-cert',
      certs.server.cert,
      '--svid-key',
      key,
    ]);
    expect(d.stdout).toContain(`key         ${key}: ok`);
    expect(d.stdout).toContain('readable by every user');
    expect(d.stdout).toContain(`bundle      ${merged}: ok, 2 authorities`);

    const serve = await startCli(
      [
        'serve',
        '--config',
        file,
        '--tls-listen',
        '127.0.0.1:0',
        '--svid-cert',
        certs.server.cert,
        '--svid-key',
        key,
      ],
      path.join(sub, 's.sock'),
    );
    try {
      expect(serve.stderr()).toContain('readable by every user');
      expect(serve.stderr()).toContain('also holds authorities of other trust domains');
    } finally {
      await serve.stop();
    }
  });

  it('refuses a spiffeIds entry without a path: no workload SVID can carry the bare trust-domain ID', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'nopath-'));
    const file = writeConfig(sub, {
      trustDomains: { [DOMAIN_A]: { bundle: certs.bundleA } },
      people: [{ name: 'ops', role: 'admin', spiffeIds: [`spiffe://${DOMAIN_A}`] }],
    });
    const r = await runCliToExit(['check-config', file]);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`people[0].spiffeIds[0]: SPIFFE ID "spiffe://${DOMAIN_A}" has no path`);
  });
});

// A descriptor limit far below the flood: without a bound on pending handshakes, silent TCP connections to
// the TLS port take every descriptor and the Unix socket can accept no one.
describe.skipIf(process.platform !== 'linux')(
  'a flood of silent connections to the TLS port (Linux: prlimit)',
  () => {
    let cli: RunningCli;
    const flood: net.Socket[] = [];
    beforeAll(async () => {
      cli = await startCli(
        ['serve', ...tlsArgs(), '--tls-max-handshakes', '16', '--tls-handshake-timeout', '60000'],
        path.join(dir, 'flood.sock'),
        { prefix: ['prlimit', '--nofile=256:256', '--'] },
      );
    });
    afterAll(async () => {
      for (const s of flood) s.destroy();
      await cli?.stop();
    });

    it('leaves the Unix socket serving, refuses the excess at accept, and logs the refusals at a bounded rate', async () => {
      const port = tlsPort(cli);
      let closedByServer = 0;
      await Promise.all(
        Array.from(
          { length: 600 },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect({ host: '127.0.0.1', port }, () => resolve());
              s.on('error', () => resolve());
              s.on('close', () => {
                closedByServer++;
                resolve();
              });
              flood.push(s);
            }),
        ),
      );
      // 16 wait in their handshakes (for a minute); the rest are closed by the server right away.
      await waitFor(() => closedByServer >= 600 - 16);
      for (let i = 0; i < 5; i++) expect(await curlJson(cli.socket, '/healthz')).toEqual({ ok: true });
      expect(await curlJson(cli.socket, '/whoami')).toMatchObject({ person: 'deploy' });
      const refusedLines = cli
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"peerauth.tls.refused"'));
      // 584 refusals, 20 of them with a line of their own in this window; the rest go into one summary.
      expect(refusedLines.length).toBe(20);
      expect(JSON.parse(refusedLines[0]!)).toMatchObject({ maxPendingHandshakes: 16 });
    });
  },
);
