// Same-process tests: these run everywhere (root or not, Linux or macOS).
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addonOrigin,
  buildFromSourceCommands,
  closePidfd,
  formatCredentials,
  getPeerCredentials,
  NotUnixSocketError,
  openPeerPidfd,
  PeerAuthError,
  PeerCredentialsError,
  platformSupport,
} from '../src/index.js';
import { type Listener, listen } from './helpers.js';

const self = () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });

describe('getPeerCredentials on a self connection', () => {
  let listener: Listener;
  let client: net.Socket;
  let server: net.Socket;

  beforeAll(async () => {
    listener = await listen();
    const accepted = listener.nextConnection();
    client = net.createConnection(listener.path);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    server = await accepted;
  });

  afterAll(async () => {
    client.destroy();
    await listener.close();
  });

  it('server side returns this process pid/uid/gid', () => {
    const c = getPeerCredentials(server);
    expect({ pid: c.pid, uid: c.uid, gid: c.gid }).toEqual(self());
  });

  it('client side (net.createConnection to a unix path) returns the same', () => {
    const c = getPeerCredentials(client);
    expect({ pid: c.pid, uid: c.uid, gid: c.gid }).toEqual(self());
  });

  // The expected list is read from /proc/self/status, which only Linux has.
  it.runIf(process.platform === 'linux')('groups equal this process supplementary groups', () => {
    // The kernel reports the supplementary list exactly as setgroups left it (/proc/self/status).
    const status = readFileSync('/proc/self/status', 'utf8');
    const line = /^Groups:[ \t]*([^\n]*)$/m.exec(status)![1]!.trim();
    const expected = line === '' ? [] : line.split(/\s+/).map(Number);
    expect(getPeerCredentials(server).groups).toEqual(expected);
  });

  it('returns a fresh plain object each call', () => {
    const a = getPeerCredentials(server);
    const b = getPeerCredentials(server);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
    expect(Object.keys(a).sort()).toEqual(['gid', 'groups', 'pid', 'uid']);
  });

  it('formatCredentials', () => {
    expect(formatCredentials({ pid: 12, uid: 1000, gid: 1000, groups: [5] })).toBe(
      'pid=12 uid=1000 gid=1000',
    );
    expect(formatCredentials(getPeerCredentials(server))).toBe(
      `pid=${process.pid} uid=${process.getuid!()} gid=${process.getgid!()}`,
    );
  });

  // SO_PEERPIDFD is Linux's (kernel >= 6.5); the check reads /proc/self/fd.
  it.runIf(platformSupport().pidfd)('openPeerPidfd returns a pidfd the caller closes once', () => {
    const fd = openPeerPidfd(server);
    expect(fd).toBeTypeOf('number');
    expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/pidfd/);
    closePidfd(fd!);
    expect(() => closePidfd(-1)).toThrow(PeerCredentialsError);
  });
});

describe('errors', () => {
  it('TCP socket -> NotUnixSocketError(TCP)', async () => {
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => tcp.once('connection', resolve));
    const c = net.createConnection(port, '127.0.0.1');
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
    const s = await accepted;
    for (const sock of [c, s]) {
      let err: unknown;
      try {
        getPeerCredentials(sock);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NotUnixSocketError);
      expect(err).toBeInstanceOf(PeerAuthError);
      expect((err as NotUnixSocketError).code).toBe('PEERAUTH_NOT_UNIX_SOCKET');
      expect((err as NotUnixSocketError).connType).toBe('TCP');
      expect(() => openPeerPidfd(sock)).toThrow(NotUnixSocketError);
    }
    c.destroy();
    s.destroy();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  });

  it('UDP socket -> NotUnixSocketError(UDP)', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    expect(() => getPeerCredentials(udp as unknown as net.Socket)).toThrow(
      expect.objectContaining({ code: 'PEERAUTH_NOT_UNIX_SOCKET', connType: 'UDP' }),
    );
    udp.close();
  });

  it('destroyed socket -> PeerCredentialsError EBADF', async () => {
    const listener = await listen();
    const accepted = listener.nextConnection();
    const c = net.createConnection(listener.path);
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
    const s = await accepted;
    s.destroy();
    c.destroy();
    for (const sock of [s, c]) {
      let err: unknown;
      try {
        getPeerCredentials(sock);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PeerCredentialsError);
      expect((err as PeerCredentialsError).code).toBe('EBADF');
      expect((err as Error).message).toMatch(/EBADF/);
    }
    await listener.close();
  });

  it.runIf(process.platform === 'linux')(
    'a listening Unix socket has no peer -> ENOTCONN, not uid -1',
    async () => {
      // Linux answers SO_PEERCRED on a peerless socket with success and uid/gid -1; that is refused.
      const listener = await listen();
      const err = (() => {
        try {
          getPeerCredentials(listener.server as unknown as net.Socket);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(PeerCredentialsError);
      expect((err as PeerCredentialsError).code).toBe('ENOTCONN');
      await listener.close();
    },
  );

  it('a socket that was never connected -> PeerCredentialsError, never a made-up identity', () => {
    const s = new net.Socket();
    expect(() => getPeerCredentials(s)).toThrow(PeerCredentialsError);
  });

  it('a connection whose peer closed still reports the peer as it was at connect time', async () => {
    // The kernel keeps the credentials captured at connect(); reading them after the peer hung up
    // must return those, not an error and not anything else.
    const listener = await listen();
    const accepted = listener.nextConnection();
    const c = net.createConnection(listener.path);
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
    const s = await accepted;
    c.destroy();
    await new Promise<void>((resolve) => s.once('end', () => resolve()).resume());
    const creds = getPeerCredentials(s);
    expect({ pid: creds.pid, uid: creds.uid, gid: creds.gid }).toEqual(self());
    await listener.close();
  });
});

describe('platform and addon', () => {
  it('without an addon for this platform, import works and every call is NativeAddonMissingError with the build commands', () => {
    // node-gyp-build honours <PACKAGE>_PREBUILD: point it at an empty directory so nothing loads.
    const empty = mkdtempSync(join(tmpdir(), 'pacn-noaddon-'));
    const script = `
      import net from 'node:net';
      import * as pa from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const path = ${JSON.stringify(join(empty, 's.sock'))};
      const server = net.createServer();
      await new Promise((r) => server.listen(path, r));
      const accepted = new Promise((r) => server.once('connection', r));
      const client = net.createConnection(path);
      const socket = await accepted;
      const out = {};
      for (const [name, fn] of [['get', () => pa.getPeerCredentials(socket)], ['origin', () => pa.addonOrigin()]]) {
        try { fn(); out[name] = 'no error'; } catch (e) { out[name] = { name: e.name, code: e.code, platform: e.platform, reason: e.reason, unavailable: e instanceof pa.PeerCredentialsUnavailableError }; }
      }
      out.support = pa.platformSupport();
      client.destroy(); socket.destroy(); server.close();
      console.log(JSON.stringify(out));`;
    try {
      const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: { ...process.env, '@PEERAUTH/CORE_NATIVE_PREBUILD': empty },
      });
      const out = JSON.parse(stdout);
      for (const e of [out.get, out.origin]) {
        expect(e).toMatchObject({
          name: 'NativeAddonMissingError',
          code: 'PEERAUTH_NATIVE_ADDON_MISSING',
          platform: process.platform,
          unavailable: true,
        });
        expect(e.reason).toContain(`no prebuilt addon ships for ${process.platform}-${process.arch}`);
        for (const command of buildFromSourceCommands()) expect(e.reason).toContain(`\n  ${command}`);
      }
      expect(out.support).toEqual({ platform: process.platform, pid: false, groups: false, pidfd: false });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('platformSupport reflects this OS', () => {
    const p = platformSupport();
    expect(p.platform).toBe(process.platform);
    if (process.platform === 'linux') {
      expect(p).toMatchObject({ pid: true, groups: true });
    }
    if (process.platform === 'darwin')
      expect(p).toEqual({ platform: 'darwin', pid: true, groups: true, pidfd: false });
  });

  it('addonOrigin names the loaded file', () => {
    const o = addonOrigin();
    expect(['prebuild', 'build']).toContain(o.source);
    expect(o.path).toMatch(/\.node$/);
    expect(o.path.includes('/prebuilds/')).toBe(o.source === 'prebuild');
  });
});
