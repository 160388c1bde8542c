import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type CredentialPool, createCredentialPool, getPeerCredentials } from '@peerauth/core-native';
import {
  createResolver,
  currentIdentity,
  type Identity,
  tryCurrentIdentity,
  type UnixIdentity,
} from '@peerauth/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AddressInUseError,
  createPeerServer,
  InvalidModeError,
  type PeerServer,
  type PeerServerOptions,
  peerOf,
  type RejectedEvent,
  UnsafeSocketPathError,
} from '../src/index.js';
import {
  countingDirectory,
  makeStaleSocket,
  makeTempDir,
  PRINT_CLIENT,
  recordingLogger,
  removeDir,
  run,
  silentLogger,
  tryConnect,
  unix,
  waitFor,
} from './helpers.js';

const CONFIG = {
  trustDomain: 'example.org',
  fallbackRole: 'guest',
  people: [],
  groupRoles: {},
  userMaps: [],
};

let dir: string;
const open: PeerServer[] = [];

beforeEach(() => {
  dir = makeTempDir();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => closed(s)));
  removeDir(dir);
});

function closed(server: PeerServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

function start(options: PeerServerOptions, onPeer?: (socket: net.Socket, identity: Identity) => void) {
  const server = createPeerServer({ logger: silentLogger, identity: CONFIG, ...options }, onPeer);
  open.push(server);
  return server;
}

function listening(server: PeerServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => {
      server.off('error', reject);
      resolve();
    });
  });
}

function listenError(server: PeerServer): Promise<Error> {
  return new Promise((resolve, reject) => {
    server.once('error', resolve);
    server.listen(() => reject(new Error('listen unexpectedly succeeded')));
  });
}

/** Sends `payload`, collects the reply until the server closes. */
/**
 * Connects, writes `payload`, resolves with what came back once the server closed. `resetIsClose`: a server
 * that closes a connection whose payload it never read makes the kernel reset it (ECONNRESET on the client,
 * depending on whether the payload arrived first), which is that close as seen from here.
 */
function exchange(socketPath: string, payload = '', resetIsClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath, () => {
      if (payload) c.write(payload);
    });
    let data = '';
    c.on('data', (d) => {
      data += d;
    });
    c.on('close', () => resolve(data));
    c.on('error', (err: NodeJS.ErrnoException) => {
      if (!(resetIsClose && err.code === 'ECONNRESET')) reject(err);
    });
  });
}

describe('createPeerServer', () => {
  it('hands each connection over with its kernel identity; peerOf and currentIdentity agree in later callbacks', async () => {
    const socketPath = path.join(dir, 'a.sock');
    const peers: Identity[] = [];
    const server = start({ path: socketPath }, (socket, identity) => {
      peers.push(identity);
      expect(peerOf(socket)).toBe(identity);
      expect(currentIdentity()).toBe(identity);
      socket.on('data', (chunk) => {
        // A callback that runs long after 'peer' still sees this connection's identity.
        setImmediate(() => {
          socket.end(
            JSON.stringify({
              echo: String(chunk),
              uid: unix(currentIdentity()).uid,
              same: peerOf(socket) === identity,
            }),
          );
        });
      });
    });
    await listening(server);
    expect(server.path).toBe(socketPath);
    expect(server.address()).toBe(socketPath);
    const reply = JSON.parse(await exchange(socketPath, 'ping'));
    expect(reply).toEqual({ echo: 'ping', uid: process.getuid?.(), same: true });
    expect(peers).toHaveLength(1);
    expect(peers[0]).toMatchObject({
      uid: process.getuid?.(),
      gid: process.getgid?.(),
      pid: process.pid,
      role: 'guest',
    });
  });

  it('allowHalfOpen: a client that sends and shuts down its side at once still gets the answer', async () => {
    const socketPath = path.join(dir, 'half.sock');
    // Counts what arrives and answers later, as a child process or an upstream would, once the client has
    // finished sending.
    const server = start({ path: socketPath, allowHalfOpen: true }, (socket) => {
      let n = 0;
      socket.on('data', (d: Buffer) => {
        n += d.length;
      });
      socket.on('end', () => setTimeout(() => socket.end(String(n)), 20));
    });
    await listening(server);
    const halfClose = (payload: string) =>
      new Promise<string>((resolve, reject) => {
        const c = net.connect(socketPath, () => c.end(payload));
        let data = '';
        c.on('data', (d) => {
          data += d;
        });
        c.on('close', () => resolve(data));
        c.on('error', reject);
      });
    expect(await halfClose('hello')).toBe('5');
    // Nothing sent: the FIN may arrive before the identity is resolved, and must not close the answer side.
    expect(await halfClose('')).toBe('0');
  });

  it('asyncContext: false still gives peerOf, without an identity context', async () => {
    const socketPath = path.join(dir, 'noctx.sock');
    const server = start({ path: socketPath, asyncContext: false }, (socket, identity) => {
      socket.end(
        JSON.stringify({ same: peerOf(socket) === identity, context: tryCurrentIdentity() ?? null }),
      );
    });
    await listening(server);
    expect(JSON.parse(await exchange(socketPath))).toEqual({ same: true, context: null });
  });

  it('remembers the identity of a repeat client process (frozen, shared); identities: 0 and cache.clear() opt out', async () => {
    const socketPath = path.join(dir, 'memo.sock');
    const seen: Identity[] = [];
    const directory = countingDirectory({ [process.getuid?.() ?? 0]: { name: 'someone', gid: 0 } }, 0);
    const server = start({ path: socketPath, identity: createResolver(CONFIG, directory) }, (s, identity) => {
      seen.push(identity);
      s.end();
    });
    await listening(server);
    await exchange(socketPath);
    await exchange(socketPath);
    expect(seen[1]).toBe(seen[0]);
    expect(Object.isFrozen(seen[0])).toBe(true);
    // Shared by every connection it answers: no part of it may be changed by one application handler for
    // the next connection, its trail steps included.
    expect(Object.isFrozen(seen[0]!.trail)).toBe(true);
    for (const step of seen[0]!.trail) expect(Object.isFrozen(step)).toBe(true);
    server.cache.clear();
    await exchange(socketPath);
    expect(seen[2]).not.toBe(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    expect(directory.userCalls).toBe(2);

    const otherPath = path.join(dir, 'nomemo.sock');
    const fresh: Identity[] = [];
    const other = start(
      { path: otherPath, identity: createResolver(CONFIG, directory), cache: { identities: 0 } },
      (s, identity) => {
        fresh.push(identity);
        s.end();
      },
    );
    await listening(other);
    await exchange(otherPath);
    await exchange(otherPath);
    expect(fresh[1]).not.toBe(fresh[0]);
    expect(Object.isFrozen(fresh[0])).toBe(false);
  });

  it('a new process of the same uid, gid and groups takes the remembered identity with its own pid, without the resolver', async () => {
    const socketPath = path.join(dir, 'memo-pids.sock');
    const uid = process.getuid?.() ?? 0;
    const directory = countingDirectory({ [uid]: { name: 'someone', gid: 0 } }, 0);
    const seen: { identity: UnixIdentity; pid: number | null }[] = [];
    const server = start({ path: socketPath, identity: createResolver(CONFIG, directory) }, (s, identity) => {
      seen.push({ identity: unix(identity), pid: getPeerCredentials(s).pid });
      s.end(`${unix(identity).pid}`);
    });
    await listening(server);
    // Two real client processes, each connecting twice; then this process.
    const twice = `${PRINT_CLIENT.replace("process.stdout.write(d + '|EOF');", "process.stdout.write(d + '|'); require('node:net').connect(process.argv[1]).on('data', (x) => process.stdout.write(x + '|EOF'));")}`;
    const first = await run(process.execPath, ['-e', twice, socketPath]);
    const second = await run(process.execPath, ['-e', twice, socketPath]);
    await exchange(socketPath);
    expect(seen).toHaveLength(5);
    const pids = seen.map((x) => x.identity.pid);
    // Each connection's identity names the pid the kernel reported for it, never a remembered one.
    expect(pids).toEqual(seen.map((x) => x.pid));
    expect(first).toBe(`${pids[0]}|${pids[1]}|EOF`);
    expect(second).toBe(`${pids[2]}|${pids[3]}|EOF`);
    expect(new Set([pids[0], pids[2], pids[4]]).size).toBe(3);
    expect(pids[4]).toBe(process.pid);
    // One lookup for all five; a process's repeat connection shares its first connection's object.
    expect(directory.userCalls).toBe(1);
    expect(seen[1]!.identity).toBe(seen[0]!.identity);
    expect(seen[3]!.identity).toBe(seen[2]!.identity);
    expect(seen[2]!.identity).not.toBe(seen[0]!.identity);
    // Copied from the remembered identity, not built by the resolver again: the frozen trail is shared.
    expect(seen[2]!.identity.trail).toBe(seen[0]!.identity.trail);
    expect(seen[4]!.identity.selectors).toBe(seen[0]!.identity.selectors);
    for (const { identity } of seen) {
      expect(Object.isFrozen(identity)).toBe(true);
      const { pid: _pid, ...rest } = identity;
      const { pid: _first, ...firstRest } = seen[0]!.identity;
      expect(rest).toEqual(firstRest);
    }
  });

  it('an identity built while a gid had no name is remembered only for negativeTtlMs: a new process sees the group once it exists', async () => {
    const socketPath = path.join(dir, 'memo-unnamed.sock');
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    let groupExists = false;
    // A directory in which the primary group is created between two connections.
    const directory = {
      userByUid: (u: number) => (u === uid ? { name: 'someone', gid } : null),
      groupsOf: () => [],
      groupsByGid: (gids: readonly number[]) =>
        gids.map((g) => ({ gid: g, name: groupExists && g === gid ? 'builders' : null })),
    };
    const config = { ...CONFIG, groupRoles: { builders: 'admin' } };
    const server = start(
      { path: socketPath, identity: createResolver(config, directory), cache: { negativeTtlMs: 50 } },
      (s, identity) => s.end(identity.role),
    );
    await listening(server);
    expect(await run(process.execPath, ['-e', PRINT_CLIENT, socketPath])).toBe('guest|EOF');
    groupExists = true;
    // Past negativeTtlMs (the cache asks again for a gid it had no name for), far within ttlMs.
    await new Promise((r) => setTimeout(r, 200));
    expect(await run(process.execPath, ['-e', PRINT_CLIENT, socketPath])).toBe('admin|EOF');
  });

  it('without a path: $XDG_RUNTIME_DIR/peerauth/peerauth.sock in a 0700 directory', async () => {
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = dir;
    try {
      const server = start({ logger: silentLogger }, (s) => s.end('ok'));
      await listening(server);
      const expected = path.join(dir, 'peerauth', 'peerauth.sock');
      expect(server.path).toBe(expected);
      expect(fs.statSync(path.join(dir, 'peerauth')).mode & 0o7777).toBe(0o700);
      expect(fs.lstatSync(expected).mode & 0o7777).toBe(0o660);
      expect(await exchange(expected)).toBe('ok');
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('without a path, refuses a runtime directory anyone may write to (no sticky bit) and creates nothing', async () => {
    const saved = process.env.XDG_RUNTIME_DIR;
    fs.chmodSync(dir, 0o777);
    process.env.XDG_RUNTIME_DIR = dir;
    try {
      const server = start({ logger: silentLogger }, (s) => s.end('ok'));
      const err = await listenError(server);
      expect(err).toMatchObject({ code: 'PEERAUTH_UNSAFE_SOCKET_DIRECTORY' });
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('refuses a bad drainTimeoutMs or handleSignals with a typed error naming the option', () => {
    for (const [option, value] of [
      ['drainTimeoutMs', -1],
      ['drainTimeoutMs', '5000'],
      ['drainTimeoutMs', Number.NaN],
      ['handleSignals', 'exit'],
      ['handleSignals', 1],
    ] as const) {
      let caught: unknown;
      try {
        createPeerServer({ logger: silentLogger, [option]: value } as PeerServerOptions);
      } catch (err) {
        caught = err;
      }
      expect(caught, `${option} ${String(value)}`).toMatchObject({
        code: 'PEERAUTH_INVALID_SERVER_OPTION',
        option,
      });
    }
  });

  it('close() with drainTimeoutMs cuts admitted connections still open after it; openConnections counts them', async () => {
    const socketPath = path.join(dir, 'drain.sock');
    const logger = recordingLogger();
    const server = start({ path: socketPath, drainTimeoutMs: 50, logger }, (s) => s.write('hi'));
    await listening(server);
    const held = net.connect(socketPath);
    held.on('error', () => {});
    await new Promise<void>((resolve) => held.once('data', () => resolve()));
    expect(server.openConnections).toBe(1);
    const heldClosed = new Promise<void>((resolve) => held.once('close', () => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await heldClosed;
    await waitFor(() => server.openConnections === 0);
    expect(
      logger.records.find((r) => r.msg === 'drain timeout: closing the remaining connections'),
    ).toMatchObject({
      level: 'warn',
      obj: { open: 1 },
    });
  });

  it('validates the mode before anything is created', () => {
    const socketPath = path.join(dir, 'never.sock');
    expect(() => createPeerServer({ path: socketPath, mode: '0999', logger: silentLogger })).toThrow(
      InvalidModeError,
    );
    expect(() => createPeerServer({ path: socketPath, mode: 0o4755, logger: silentLogger })).toThrow(
      InvalidModeError,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('creates the socket with exactly the requested mode, also under umask 000', async () => {
    const previous = process.umask(0);
    try {
      for (const [mode, expected] of [
        ['0640', 0o640],
        [0o600, 0o600],
        [undefined, 0o660],
      ] as const) {
        const socketPath = path.join(dir, `m-${expected.toString(8)}.sock`);
        const server = start({ path: socketPath, ...(mode === undefined ? {} : { mode }) });
        await listening(server);
        expect(fs.lstatSync(socketPath).mode & 0o7777).toBe(expected);
      }
    } finally {
      process.umask(previous);
    }
  });

  it('replaces a stale socket; a live one is AddressInUseError and keeps answering', async () => {
    const socketPath = path.join(dir, 's.sock');
    await makeStaleSocket(socketPath);
    const first = start({ path: socketPath }, (s) => s.end('first'));
    await listening(first);
    expect(await exchange(socketPath)).toBe('first');
    const second = start({ path: socketPath }, (s) => s.end('second'));
    const err = await listenError(second);
    expect(err).toBeInstanceOf(AddressInUseError);
    expect((err as AddressInUseError).code).toBe('PEERAUTH_ADDRESS_IN_USE');
    expect(second.listening).toBe(false);
    expect(await exchange(socketPath)).toBe('first');
  });

  it('emits UnsafeSocketPathError for a regular file, a directory or a symlink and leaves them', async () => {
    const file = path.join(dir, 'f.sock');
    fs.writeFileSync(file, 'keep');
    const sub = path.join(dir, 'd.sock');
    fs.mkdirSync(sub);
    const link = path.join(dir, 'l.sock');
    fs.symlinkSync(file, link);
    for (const p of [file, sub, link]) {
      const err = await listenError(start({ path: p }));
      expect(err).toBeInstanceOf(UnsafeSocketPathError);
      expect((err as UnsafeSocketPathError).code).toBe('PEERAUTH_UNSAFE_SOCKET_PATH');
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('keep');
    expect(fs.statSync(sub).isDirectory()).toBe(true);
    expect(fs.readlinkSync(link)).toBe(file);
    expect(fs.readdirSync(dir).sort()).toEqual(['d.sock', 'f.sock', 'l.sock']);
  });

  it('close() drains open connections and unlinks the socket file, nothing else', async () => {
    const socketPath = path.join(dir, 'c.sock');
    let held: net.Socket | undefined;
    const server = start({ path: socketPath }, (s) => {
      held = s;
    });
    await listening(server);
    const client = net.connect(socketPath).resume();
    await new Promise((r) => client.once('connect', r));
    await waitFor(() => held !== undefined);
    let closedAt: 'before' | 'after' | null = null;
    server.close(() => {
      closedAt ??= 'after';
    });
    // The path is gone at once: new clients are not accepted while old ones drain.
    expect(fs.existsSync(socketPath)).toBe(false);
    expect(await tryConnect(socketPath)).toBe('ENOENT');
    await new Promise((r) => setTimeout(r, 50));
    expect(closedAt).toBeNull();
    held?.end('bye');
    await new Promise((r) => client.once('close', r));
    await waitFor(() => closedAt === 'after');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('is composed around a net.Server rather than being one; the bind step never reaches its listeners', async () => {
    const socketPath = path.join(dir, 'composed.sock');
    const server = start({ path: socketPath });
    expect(server).not.toBeInstanceOf(net.Server);
    expect(server.server).toBeInstanceOf(net.Server);
    let announced = 0;
    server.on('listening', () => announced++);
    await listening(server);
    expect(announced).toBe(1);
    expect(server.listening).toBe(true);
    expect(server.server.listening).toBe(true);
    expect(server.address()).toBe(socketPath);
  });

  it("emits 'stopping' once when close() starts, and stopping stays true from then on", async () => {
    const socketPath = path.join(dir, 'stopping.sock');
    const server = start({ path: socketPath });
    await listening(server);
    const seen: boolean[] = [];
    server.on('stopping', () => seen.push(server.stopping));
    expect(server.stopping).toBe(false);
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    // Emitted synchronously inside close(), before it returns.
    expect(seen).toEqual([true]);
    expect(server.stopping).toBe(true);
    server.close();
    await done;
    expect(seen).toEqual([true]);
    expect(server.stopping).toBe(true);
  });

  it('close() right after listen() leaves nothing behind and never announces listening', async () => {
    const socketPath = path.join(dir, 'early.sock');
    const server = start({ path: socketPath });
    let announced = false;
    server.listen(() => {
      announced = true;
    });
    server.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(announced).toBe(false);
    expect(server.listening).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('close() leaves a file that replaced the socket', async () => {
    const socketPath = path.join(dir, 'r.sock');
    const server = start({ path: socketPath });
    await listening(server);
    fs.rmSync(socketPath);
    fs.writeFileSync(socketPath, 'not yours');
    await closed(server);
    expect(fs.readFileSync(socketPath, 'utf8')).toBe('not yours');
  });

  it('refuses a role outside allowRoles: the connection is closed and a rejected event says why', async () => {
    const socketPath = path.join(dir, 'p.sock');
    const log = recordingLogger();
    const server = start({ path: socketPath, allowRoles: ['admin'], logger: log }, () => {
      throw new Error('must not be admitted');
    });
    const rejected = new Promise<RejectedEvent>((r) => server.once('rejected', r));
    await listening(server);
    expect(await exchange(socketPath, 'secret payload', true)).toBe('');
    const event = await rejected;
    expect(event.reason).toContain('guest');
    expect(event.credentials?.uid).toBe(process.getuid?.());
    expect(event.identity?.role).toBe('guest');
    const audit = log.records.filter((r) => r.obj.event === 'peerauth.connection');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      level: 'warn',
      obj: { decision: 'rejected', peerUid: process.getuid?.(), peerPid: process.pid, role: 'guest' },
    });
    expect(JSON.stringify(log.records)).not.toContain('secret payload');
  });

  it('audits a connection with who, why and how long in one closing line (accepted only at debug), never payload bytes', async () => {
    const socketPath = path.join(dir, 'au.sock');
    const log = recordingLogger();
    const server = start({ path: socketPath, logger: log }, (s) => {
      s.on('data', () => s.end('reply bytes'));
    });
    await listening(server);
    await exchange(socketPath, 'payload bytes');
    await waitFor(() => log.records.some((r) => r.obj.decision === 'closed'));
    const audit = log.records.filter((r) => r.obj.event === 'peerauth.connection');
    // The recording logger has every level on: the accepted line is there, at debug.
    expect(audit.map((r) => [r.obj.decision, r.level])).toEqual([
      ['accepted', 'debug'],
      ['closed', 'info'],
    ]);
    expect(audit[1]!.obj.reason).toBe(null);
    expect(audit[1]!.obj.admissionMs).toBe(audit[0]!.obj.durationMs);
    expect(audit[1]!.obj.durationMs as number).toBeGreaterThanOrEqual(audit[1]!.obj.admissionMs as number);
    for (const record of audit) {
      expect(record.obj).toMatchObject({
        peerUid: process.getuid?.(),
        peerPid: process.pid,
        role: 'guest',
        person: null,
      });
      expect(typeof record.obj.durationMs).toBe('number');
      expect(Object.keys(record.obj)).toEqual(
        expect.arrayContaining([
          'peerUid',
          'peerGid',
          'peerPid',
          'username',
          'person',
          'role',
          'decision',
          'reason',
          'durationMs',
          'admissionMs',
          'fallback',
          'spiffeId',
        ]),
      );
      // Bare uid/gid/pid would read as the logger's own process (pino's `pid`, pino-pretty's header).
      for (const own of ['uid', 'gid', 'pid']) expect(record.obj).not.toHaveProperty(own);
    }
    const text = JSON.stringify(log.records);
    expect(text).not.toContain('payload bytes');
    expect(text).not.toContain('reply bytes');
  });

  it('single-flight: 1,000 parallel connections from one uncached uid cause exactly one directory lookup', async () => {
    const socketPath = path.join(dir, 'sf.sock');
    const directory = countingDirectory({ [process.getuid?.() ?? 0]: { name: 'someone', gid: 0 } }, 50);
    const resolver = createResolver(CONFIG, directory);
    let peers = 0;
    const server = start({ path: socketPath, identity: resolver, backlog: 2048 }, (s, identity) => {
      peers++;
      s.end(unix(identity).username ?? 'none');
    });
    await listening(server);
    const replies = await Promise.all(Array.from({ length: 1000 }, () => exchange(socketPath)));
    expect(peers).toBe(1000);
    expect(new Set(replies)).toEqual(new Set(['someone']));
    expect(directory.userCalls).toBe(1);
    expect(directory.groupCalls).toBeLessThanOrEqual(1);
    expect(server.cache.stats().misses).toBeLessThanOrEqual(2);
  });

  describe('with the worker pool', () => {
    let real: ReturnType<typeof createCredentialPool>;
    let pool: CredentialPool;
    const calls = { lookupUser: 0, processInfo: 0 };
    beforeEach(() => {
      real = createCredentialPool();
      calls.lookupUser = 0;
      calls.processInfo = 0;
      // Counts the round trips; every call still goes to the real worker pool.
      pool = {
        lookupUser: (uid, o) => {
          calls.lookupUser++;
          return real.lookupUser(uid, o);
        },
        lookupUserByName: (n) => real.lookupUserByName(n),
        lookupGroup: (g) => real.lookupGroup(g),
        lookupGroups: (g) => real.lookupGroups(g),
        userGroups: (n, g) => real.userGroups(n, g),
        userGroupNames: (n, g) => real.userGroupNames(n, g),
        processInfo: (p, o) => {
          calls.processInfo++;
          return real.processInfo(p, o);
        },
        ready: () => real.ready(),
        close: () => real.close(),
      };
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => closed(s)));
      await real.close();
    });

    it('a cache hit resolves without a pool round trip', async () => {
      const socketPath = path.join(dir, 'pool.sock');
      const server = start({ path: socketPath, pool }, (s, identity) => s.end(unix(identity).username ?? ''));
      await listening(server);
      const first = await exchange(socketPath);
      const second = await exchange(socketPath);
      expect(first).toBe(second);
      expect(first.length).toBeGreaterThan(0);
      expect(calls.lookupUser).toBe(1);
    });

    it('process attestation adds the executable to the identity', async () => {
      const socketPath = path.join(dir, 'proc.sock');
      const server = start({ path: socketPath, pool, process: true }, (s, identity) =>
        s.end(JSON.stringify(identity)),
      );
      await listening(server);
      const identity = JSON.parse(await exchange(socketPath)) as Identity;
      expect(calls.processInfo).toBe(1);
      const exeName = path.basename(fs.realpathSync(process.execPath));
      expect(JSON.stringify(identity.selectors) + identity.spiffeId).toContain(exeName);
    });

    it('a failed attestation gives an identity without an executable, and the trail says so', async () => {
      const socketPath = path.join(dir, 'pf.sock');
      const failing: CredentialPool = {
        ...pool,
        processInfo: async () => {
          throw Object.assign(new Error('peer went away'), { code: 'PEERAUTH_PEER_PROCESS_EXITED' });
        },
      };
      const server = start({ path: socketPath, pool: failing, process: true }, (s, identity) =>
        s.end(JSON.stringify(identity)),
      );
      await listening(server);
      const identity = unix(JSON.parse(await exchange(socketPath)) as Identity);
      expect(identity.uid).toBe(process.getuid?.());
      const exeName = path.basename(fs.realpathSync(process.execPath));
      expect(identity.spiffeId).not.toContain(exeName);
      expect(identity.trail.some((step) => step.detail.includes('PEERAUTH_PEER_PROCESS_EXITED'))).toBe(true);
    });
  });
});
