// Real clients running as other users: the identity comes from the kernel, not from anything they send.
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { createCredentialPool } from '@peerauth/core-native';
import { createResolver, currentIdentity, type Identity } from '@peerauth/identity';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  uidIsFree,
} from '../../../test-fixtures/users.js';
import {
  createPeerServer,
  type PeerServer,
  type PeerServerOptions,
  poolDirectory,
  type RejectedEvent,
} from '../src/index.js';
import { asUser, makeTempDir, PRINT_CLIENT, removeDir, run, silentLogger, unix } from './helpers.js';

const STAFF = { name: 'pasrv_staff', gid: 42010 };
const OPS = { name: 'pasrv_ops', gid: 42011 };
const ALICE = { name: 'pasrv_alice', uid: 42001, gid: STAFF.gid };
const BOB = { name: 'pasrv_bob', uid: 42002, gid: STAFF.gid };
// No passwd entry at all: a stranger to NSS.
const STRANGER = { uid: 42050, gid: 42051 };

const CONFIG = {
  trustDomain: 'example.org',
  fallbackRole: 'guest',
  people: [{ name: 'Alice', role: 'admin', osUsername: ALICE.name }],
  groupRoles: { [OPS.name]: 'operator' },
  userMaps: [],
};

function describeIdentity(socket: net.Socket, identity: Identity): void {
  socket.end(
    JSON.stringify({
      uid: unix(identity).uid,
      gid: unix(identity).gid,
      username: unix(identity).username,
      person: identity.person?.name ?? null,
      role: identity.role,
      fallback: identity.fallback,
      contextRole: currentIdentity().role,
    }),
  );
}

describeAsRoot('clients with other uids, gids and groups (root)', () => {
  let dir: string;
  let server: PeerServer | undefined;

  beforeAll(() => {
    // Clean up leftovers of an interrupted run (only our own prefixed names).
    for (const u of [ALICE, BOB]) removeTestUser(u.name);
    for (const g of [OPS, STAFF]) removeTestGroup(g.name);
    createTestGroup(STAFF.name, STAFF.gid);
    createTestGroup(OPS.name, OPS.gid);
    createTestUser(ALICE.name, { uid: ALICE.uid, gid: ALICE.gid });
    createTestUser(BOB.name, { uid: BOB.uid, gid: BOB.gid, supplementary: [OPS.name] });
    expect(uidIsFree(STRANGER.uid)).toBe(true);
    dir = makeTempDir();
    // Other users must be able to reach the socket inside.
    fs.chmodSync(dir, 0o755);
  });

  afterAll(() => {
    for (const u of [ALICE, BOB]) removeTestUser(u.name);
    for (const g of [OPS, STAFF]) removeTestGroup(g.name);
    removeDir(dir);
  });

  afterEach(async () => {
    if (server?.listening) await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
  });

  async function serve(name: string, options: Partial<PeerServerOptions> = {}): Promise<string> {
    const socketPath = path.join(dir, name);
    server = createPeerServer(
      { path: socketPath, mode: 0o666, identity: CONFIG, logger: silentLogger, ...options },
      describeIdentity,
    );
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(() => resolve());
    });
    return socketPath;
  }

  function client(socketPath: string, uid: number, gid: number, groups: number[]): Promise<string> {
    return run('setpriv', [...asUser(uid, gid, groups), process.execPath, '-e', PRINT_CLIENT, socketPath]);
  }

  it('a configured person gets their role (setpriv with supplementary groups)', async () => {
    const socketPath = await serve('person.sock');
    const out = await client(socketPath, ALICE.uid, ALICE.gid, [STAFF.gid]);
    expect(JSON.parse(out.replace(/\|EOF$/, ''))).toEqual({
      uid: ALICE.uid,
      gid: ALICE.gid,
      username: ALICE.name,
      person: 'Alice',
      role: 'admin',
      fallback: false,
      contextRole: 'admin',
    });
  });

  it('a process holding a mapped group gets the group role (setpriv --groups)', async () => {
    const socketPath = await serve('group.sock');
    const out = await client(socketPath, BOB.uid, BOB.gid, [STAFF.gid, OPS.gid]);
    expect(JSON.parse(out.replace(/\|EOF$/, ''))).toMatchObject({
      uid: BOB.uid,
      gid: BOB.gid,
      username: BOB.name,
      person: null,
      role: 'operator',
      fallback: false,
    });
  });

  it('the kernel decides group membership: child_process uid/gid drops supplementary groups, so no group role', async () => {
    const socketPath = await serve('nogroup.sock');
    // Node's spawn({ uid, gid }) calls setgroups(0): the client does not hold pasrv_ops, whatever
    // /etc/group says, so it must not get the operator role.
    const out = await run(process.execPath, ['-e', PRINT_CLIENT, socketPath], { uid: BOB.uid, gid: BOB.gid });
    expect(JSON.parse(out.replace(/\|EOF$/, ''))).toMatchObject({
      uid: BOB.uid,
      gid: BOB.gid,
      username: BOB.name,
      role: 'guest',
      fallback: true,
    });
  });

  it('a uid with no passwd entry gets the fallback role', async () => {
    const socketPath = await serve('stranger.sock');
    const out = await client(socketPath, STRANGER.uid, STRANGER.gid, []);
    expect(JSON.parse(out.replace(/\|EOF$/, ''))).toEqual({
      uid: STRANGER.uid,
      gid: STRANGER.gid,
      username: null,
      person: null,
      role: 'guest',
      fallback: true,
      contextRole: 'guest',
    });
  });

  it('a refused role is closed at once with a rejected event; admitted roles still get through', async () => {
    const socketPath = await serve('policy.sock', { allowRoles: ['admin', 'operator'] });
    const rejected: RejectedEvent[] = [];
    server?.on('rejected', (e) => rejected.push(e));
    const strangerOut = await client(socketPath, STRANGER.uid, STRANGER.gid, []);
    // Closed without a byte of reply.
    expect(strangerOut).toBe('|EOF');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.credentials).toMatchObject({ uid: STRANGER.uid, gid: STRANGER.gid });
    expect(rejected[0]?.identity?.role).toBe('guest');
    expect(rejected[0]?.reason).toContain('guest');
    const aliceOut = await client(socketPath, ALICE.uid, ALICE.gid, []);
    expect(JSON.parse(aliceOut.replace(/\|EOF$/, '')).role).toBe('admin');
    expect(rejected).toHaveLength(1);
  });

  it('single-flight: 1,000 parallel connections from a new uid (a real user, real NSS) cost one user lookup', async () => {
    const pool = createCredentialPool();
    const real = poolDirectory(pool);
    const counted = { users: 0, groups: 0 };
    const directory = {
      userByUid: (uid: number) => {
        counted.users++;
        return real.userByUid(uid);
      },
      groupsOf: (name: string, gid: number) => real.groupsOf(name, gid),
      // The kernel reports the groups: they are named in one call, whatever groupsOf would say.
      groupsByGid: (gids: readonly number[]) => {
        counted.groups++;
        return real.groupsByGid!(gids);
      },
    };
    try {
      const socketPath = await serve('burst.sock', {
        identity: createResolver(CONFIG, directory),
        backlog: 2048,
      });
      const burst = `
        const net = require('node:net');
        const n = 1000;
        let named = 0, done = 0;
        for (let i = 0; i < n; i++) {
          const c = net.connect(process.argv[1]);
          let d = '';
          c.on('data', (x) => { d += x; });
          c.on('error', () => {});
          c.on('close', () => {
            if (d && JSON.parse(d).username === process.argv[2]) named++;
            if (++done === n) process.stdout.write(String(named));
          });
        }`;
      const out = await run('setpriv', [
        ...asUser(BOB.uid, BOB.gid, [STAFF.gid]),
        process.execPath,
        '-e',
        burst,
        socketPath,
        BOB.name,
      ]);
      expect(out).toBe('1000');
      expect(counted.users).toBe(1);
      expect(counted.groups).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('the socket mode keeps other users out when asked to (0600)', async () => {
    const socketPath = await serve('private.sock', { mode: 0o600 });
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);
    const out = await client(socketPath, ALICE.uid, ALICE.gid, []);
    expect(out).toMatch(/^ERR EACCES/);
  });
});
