// close() racing listen(), close() twice, listen() again after a close with a drain timeout, and the
// identity memo against the directory cache's clock: each with a real server and real clients.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createResolver } from '@peerauth/identity';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPeerServer, type PeerServer, type PeerServerOptions } from '../src/index.js';
import { asUser, makeTempDir, PRINT_CLIENT, removeDir, run, silentLogger, waitFor } from './helpers.js';

const CONFIG = { roles: ['guest'], fallbackRole: 'guest', people: [], groupRoles: {}, userMaps: [] };

let dir: string;
const servers: PeerServer[] = [];

beforeEach(() => {
  dir = makeTempDir('pa28l-');
});

afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  removeDir(dir);
});

function make(options: PeerServerOptions, onPeer?: (socket: net.Socket) => void): PeerServer {
  const server = createPeerServer({ logger: silentLogger, identity: CONFIG, ...options }, onPeer);
  servers.push(server);
  return server;
}

/** Counts the public events of a server. */
function events(server: PeerServer) {
  const seen = { close: 0, errors: [] as Error[], listening: 0 };
  server.on('close', () => seen.close++);
  server.on('error', (err: Error) => seen.errors.push(err));
  server.on('listening', () => seen.listening++);
  return seen;
}

const settle = () => new Promise((r) => setTimeout(r, 100));

describe('close() during the start', () => {
  it('a close() while the socket is bound at its temporary path: one close, no error, nothing left', async () => {
    // The inner listener's 'listening' comes while the socket is still in the private bind directory,
    // before it is checked, chmod'ed and linked into place: the middle of the start.
    for (let i = 0; i < 5; i++) {
      const socketPath = path.join(dir, `mid-${i}.sock`);
      const server = make({ path: socketPath });
      const seen = events(server);
      server.server.once('listening', () => server.close());
      server.listen();
      await waitFor(() => seen.close > 0 || seen.errors.length > 0);
      await settle();
      expect(seen.errors).toEqual([]);
      expect(seen).toMatchObject({ close: 1, listening: 0 });
      expect(server.listening).toBe(false);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('close() at every turn of the event loop during the start: one close, no error each time', async () => {
    for (let turns = 0; turns < 12; turns++) {
      const socketPath = path.join(dir, `turn-${turns}.sock`);
      const server = make({ path: socketPath });
      const seen = events(server);
      server.listen();
      for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
      server.close();
      await waitFor(() => seen.close > 0 || seen.errors.length > 0);
      await settle();
      expect(seen.errors, `after ${turns} turns`).toEqual([]);
      expect(seen.close, `after ${turns} turns`).toBe(1);
      expect(fs.existsSync(socketPath)).toBe(false);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('close() twice', () => {
  it("emits 'close' once; both callbacks are called", async () => {
    const server = make({ path: path.join(dir, 'twice.sock') });
    const seen = events(server);
    await new Promise<void>((resolve) => server.listen(() => resolve()));
    let callbacks = 0;
    server.close(() => callbacks++);
    server.close(() => callbacks++);
    await waitFor(() => callbacks === 2);
    await settle();
    expect(seen.close).toBe(1);
    expect(seen.errors).toEqual([]);
  });
});

describe('listen() again after close() with drainTimeoutMs', () => {
  it("the first close's drain timer cuts only the connections of the first life", async () => {
    const socketPath = path.join(dir, 'again.sock');
    const server = make({ path: socketPath, drainTimeoutMs: 300 }, (s) => {
      s.on('data', (d) => s.write(d));
      s.write('hi');
    });
    await new Promise<void>((resolve) => server.listen(() => resolve()));
    const connect = async () => {
      const c = net.connect(socketPath);
      c.on('error', () => {});
      await new Promise<void>((resolve) => c.once('data', () => resolve()));
      return c;
    };
    const old = await connect();
    const oldClosed = new Promise<void>((resolve) => old.once('close', () => resolve()));
    server.close();
    await new Promise<void>((resolve) => server.listen(() => resolve()));
    const fresh = await connect();
    let freshClosed = false;
    fresh.once('close', () => {
      freshClosed = true;
    });
    await oldClosed;
    await settle();
    expect(freshClosed).toBe(false);
    const echo = new Promise<string>((resolve) => fresh.once('data', (d) => resolve(String(d))));
    fresh.write('still here');
    expect(await echo).toBe('still here');
    fresh.destroy();
  });
});

// Clients with other groups come from setpriv (util-linux, Linux only) and need root to switch ids.
describe.skipIf(process.platform !== 'linux' || process.getuid?.() !== 0)(
  'the identity memo and the directory cache (root: clients with other groups through setpriv)',
  () => {
    it('an identity built from a cached answer lives no longer than that answer', async () => {
      // Only Date is faked: the cache and the memo read Date.now, and the sockets keep their real timers.
      vi.useFakeTimers({ toFake: ['Date'] });
      const at = (ms: number) => vi.setSystemTime(new Date(Date.UTC(2030, 0, 1) + ms));
      at(0);
      let name = 'before';
      const directory = {
        userByUid: (uid: number) => (uid === 0 ? { name, gid: 0 } : null),
        groupsOf: () => [],
        groupsByGid: (gids: readonly number[]) => gids.map((gid) => ({ gid, name: `g${gid}` })),
      };
      const socketPath = path.join(dir, 'memo.sock');
      const server = make(
        {
          path: socketPath,
          identity: createResolver(CONFIG, directory),
          cache: { ttlMs: 1000 },
        },
        (s) => s.end(''),
      );
      const names: string[] = [];
      server.on('peer', (_s, identity) => names.push(String(identity.auth === 'unix' && identity.username)));
      await new Promise<void>((resolve) => server.listen(() => resolve()));
      const client = (groups: number[]) =>
        run('setpriv', [...asUser(0, 0, groups), process.execPath, '-e', PRINT_CLIENT, socketPath]);
      try {
        await client([]); // t=0: the user's answer is cached until t=1000
        at(900);
        await client([0]); // other groups: a new memo entry, built from the 900 ms old answer
        name = 'after';
        at(1500); // the cached answer has expired: the next connection must ask the directory again
        await client([0]);
      } finally {
        vi.useRealTimers();
      }
      expect(names).toEqual(['before', 'before', 'after']);
    });
  },
);
