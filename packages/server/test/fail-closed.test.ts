// Issue 11 against real processes: group roles from the kernel's group list with every gid named by the
// pool, unnamed gids granting nothing, SPIRE's selectors for processes with known ids and executable, and
// a failed lookup refusing the connection without being cached.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { type CredentialPool, createCredentialPool } from '@peerauth/core-native';
import { createResolver, type Identity } from '@peerauth/identity';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  uidIsFree,
} from '../../../test-fixtures/users.js';
import { createCachingDirectory } from '../src/cache.js';
import { createPeerServer, type PeerServer, type PeerServerOptions, poolDirectory } from '../src/index.js';
import {
  asUser,
  makeTempDir,
  PRINT_CLIENT,
  recordingLogger,
  removeDir,
  run,
  silentLogger,
  unix,
} from './helpers.js';

const STAFF = { name: 'pa11-srv-staff', gid: 44320 };
const OPS = { name: 'pa11-srv-ops', gid: 44321 };
const USER = { name: 'pa11-srv-u', uid: 44220, gid: STAFF.gid };
// No passwd entry; its primary group is named.
const STRANGER = { uid: 44290, gid: STAFF.gid };
// No group entry.
const NAMELESS_GID = 44399;

const NODE_CLIENT = [process.execPath, '-e', PRINT_CLIENT];
// A small executable to attest and hash (node is larger than the default maxBytes).
const PYTHON = fs.realpathSync('/usr/bin/python3');
const PYTHON_CLIENT = [
  PYTHON,
  '-c',
  'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nd=b""\nwhile True:\n  b=s.recv(65536)\n  if not b: break\n  d+=b\nsys.stdout.write(d.decode()+"|EOF")',
];

function reply(socket: net.Socket, identity: Identity): void {
  socket.end(JSON.stringify({ role: identity.role, selectors: identity.selectors, pid: unix(identity).pid }));
}

describeAsRoot('groups, selectors and failed lookups with real processes (root)', () => {
  let dir: string;
  let server: PeerServer | undefined;

  beforeAll(() => {
    removeTestUser(USER.name);
    for (const g of [STAFF, OPS]) removeTestGroup(g.name);
    createTestGroup(STAFF.name, STAFF.gid);
    createTestGroup(OPS.name, OPS.gid);
    createTestUser(USER.name, { uid: USER.uid, gid: USER.gid });
    expect(uidIsFree(STRANGER.uid)).toBe(true);
    dir = makeTempDir();
    fs.chmodSync(dir, 0o755);
  });

  afterAll(() => {
    removeTestUser(USER.name);
    for (const g of [STAFF, OPS]) removeTestGroup(g.name);
    removeDir(dir);
  });

  afterEach(async () => {
    if (server?.listening) await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
  });

  async function serve(name: string, options: Partial<PeerServerOptions>): Promise<string> {
    const socketPath = path.join(dir, name);
    server = createPeerServer({ path: socketPath, mode: 0o666, logger: silentLogger, ...options }, reply);
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(() => resolve());
    });
    return socketPath;
  }

  async function connect(
    socketPath: string,
    uid: number,
    gid: number,
    groups: number[],
    client = NODE_CLIENT,
  ) {
    const out = await run('setpriv', [...asUser(uid, gid, groups), ...client, socketPath]);
    const body = out.replace(/\|EOF$/, '');
    return body === '' ? null : (JSON.parse(body) as { role: string; selectors: string[]; pid: number });
  }

  const identity = (groupRoles: Record<string, string>) => ({
    roles: ['admin', 'ops', 'member', 'public'],
    people: [],
    groupRoles,
  });

  it('a group held through setpriv --groups that /etc/group does not list for the user gives its role', async () => {
    const socketPath = await serve('held.sock', { identity: identity({ [OPS.name]: 'ops' }) });
    expect((await connect(socketPath, USER.uid, USER.gid, [OPS.gid]))?.role).toBe('ops');
    // root holding it the same way
    expect((await connect(socketPath, 0, 0, [OPS.gid]))?.role).toBe('ops');
  });

  it('a uid with no passwd entry whose primary group is named gets that group role', async () => {
    const socketPath = await serve('stranger.sock', { identity: identity({ [STAFF.name]: 'member' }) });
    expect((await connect(socketPath, STRANGER.uid, STRANGER.gid, []))?.role).toBe('member');
  });

  it('a gid without a group entry is never matched by its number, only by "gid:N"', async () => {
    const byNumber = await serve('number.sock', { identity: identity({ [String(NAMELESS_GID)]: 'admin' }) });
    const seen = await connect(byNumber, USER.uid, USER.gid, [NAMELESS_GID]);
    expect(seen?.role).toBe('public');
    expect(seen?.selectors).toContain(`unix:supplementary_gid:${NAMELESS_GID}`);
    expect(seen?.selectors.filter((s) => s.endsWith(`:${NAMELESS_GID}`))).toHaveLength(1);
    await new Promise<void>((r) => server?.close(() => r()));
    const byGid = await serve('gid.sock', { identity: identity({ [`gid:${NAMELESS_GID}`]: 'admin' }) });
    expect((await connect(byGid, USER.uid, USER.gid, [NAMELESS_GID]))?.role).toBe('admin');
  });

  it('names the whole group list in one pool task, cached per gid', async () => {
    const pool = createCredentialPool({ threads: 1 });
    const tasks: number[][] = [];
    // Counts the group tasks; every call still goes to the real pool.
    const counting: CredentialPool = {
      lookupUser: (uid, opts) => pool.lookupUser(uid, opts),
      lookupUserByName: (name, opts) => pool.lookupUserByName(name, opts),
      lookupGroup: (gid, opts) => pool.lookupGroup(gid, opts),
      lookupGroups: (gids, opts) => {
        tasks.push([...gids]);
        return pool.lookupGroups(gids, opts);
      },
      userGroups: (name, gid, opts) => pool.userGroups(name, gid, opts),
      userGroupNames: (name, gid, opts) => pool.userGroupNames(name, gid, opts),
      processInfo: (peer, opts) => pool.processInfo(peer, opts),
      ready: () => pool.ready(),
      close: () => pool.close(),
    };
    try {
      const socketPath = await serve('batch.sock', { identity: identity({}), pool: counting });
      await connect(socketPath, USER.uid, USER.gid, [OPS.gid, NAMELESS_GID]);
      expect(tasks).toEqual([[USER.gid, OPS.gid, NAMELESS_GID]]);
      // Same gids again: all cached. One new gid: one task for that gid alone.
      await connect(socketPath, STRANGER.uid, STRANGER.gid, [OPS.gid, 0]);
      expect(tasks).toEqual([[USER.gid, OPS.gid, NAMELESS_GID], [0]]);
    } finally {
      await new Promise<void>((r) => server?.close(() => r()));
      await pool.close();
    }
  });

  describe('selectors equal the SPIRE unix attestor selectors of the same process', () => {
    const sha256 = createHash('sha256').update(fs.readFileSync(PYTHON)).digest('hex');
    const table: { what: string; uid: number; gid: number; groups: number[]; expected: string[] }[] = [
      {
        what: 'a user with supplementary groups, one of them nameless',
        uid: USER.uid,
        gid: USER.gid,
        groups: [STAFF.gid, OPS.gid, NAMELESS_GID],
        expected: [
          `unix:uid:${USER.uid}`,
          `unix:user:${USER.name}`,
          `unix:gid:${STAFF.gid}`,
          `unix:group:${STAFF.name}`,
          `unix:supplementary_gid:${STAFF.gid}`,
          `unix:supplementary_group:${STAFF.name}`,
          `unix:supplementary_gid:${OPS.gid}`,
          `unix:supplementary_group:${OPS.name}`,
          `unix:supplementary_gid:${NAMELESS_GID}`,
        ],
      },
      {
        what: 'a uid without a passwd entry',
        uid: STRANGER.uid,
        gid: STRANGER.gid,
        groups: [OPS.gid],
        expected: [
          `unix:uid:${STRANGER.uid}`,
          `unix:gid:${STAFF.gid}`,
          `unix:group:${STAFF.name}`,
          `unix:supplementary_gid:${OPS.gid}`,
          `unix:supplementary_group:${OPS.name}`,
        ],
      },
      {
        what: 'root without supplementary groups',
        uid: 0,
        gid: 0,
        groups: [],
        expected: ['unix:uid:0', 'unix:user:root', 'unix:gid:0', 'unix:group:root'],
      },
    ];

    it.each(table)('$what', async ({ uid, gid, groups, expected }) => {
      const socketPath = await serve(`sel-${uid}.sock`, {
        identity: identity({}),
        process: { sha256: true },
      });
      const seen = await connect(socketPath, uid, gid, groups, PYTHON_CLIENT);
      expect(seen?.selectors).toEqual([...expected, `unix:path:${PYTHON}`, `unix:sha256:${sha256}`]);
      expect(seen?.pid).toBeGreaterThan(0);
    });
  });

  it('a failed user lookup refuses the connection with an audit line; past failureTtlMs it is asked again', async () => {
    const pool = createCredentialPool({ threads: 1 });
    const real = poolDirectory(pool);
    let failures = 1;
    let userCalls = 0;
    const directory = {
      ...real,
      userByUid: async (uid: number) => {
        userCalls++;
        if (failures-- > 0)
          throw Object.assign(new Error('getpwuid_r failed: Input/output error'), {
            code: 'PEERAUTH_LOOKUP_FAILED',
          });
        return real.userByUid(uid);
      },
    };
    const logger = recordingLogger();
    try {
      const socketPath = await serve('failed.sock', {
        identity: createResolver(identity({}), directory),
        allowRoles: ['admin', 'ops', 'member', 'public'],
        logger,
        cache: { failureTtlMs: 0 },
      });
      expect(await connect(socketPath, USER.uid, USER.gid, [])).toBeNull();
      const rejected = logger.records.filter((r) => r.obj.decision === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(String(rejected[0]?.obj.reason)).toContain('PEERAUTH_IDENTITY_LOOKUP_FAILED');
      expect(String(rejected[0]?.obj.reason)).toContain(`uid ${USER.uid}`);
      // The next connection asks again, and this time the directory answers.
      expect((await connect(socketPath, USER.uid, USER.gid, []))?.role).toBe('public');
      expect(userCalls).toBe(2);
    } finally {
      await new Promise<void>((r) => server?.close(() => r()));
      await pool.close();
    }
  });
});

describe('the caching directory names gids one by one', () => {
  it('batches misses into one inner call, answers hits without one, and remembers a failure only briefly', async () => {
    const calls: number[][] = [];
    let fail = false;
    let now = 0;
    const cached = createCachingDirectory(
      {
        userByUid: async () => null,
        groupsOf: async () => [],
        groupsByGid: async (gids) => {
          calls.push([...gids]);
          if (fail) throw new Error('down');
          return gids.map((gid) => ({ gid, name: gid === 7 ? null : `g${gid}` }));
        },
      },
      { failureTtlMs: 1000, now: () => now },
    );
    expect(await cached.groupsByGid?.([1, 2, 7])).toEqual([
      { gid: 1, name: 'g1' },
      { gid: 2, name: 'g2' },
      { gid: 7, name: null },
    ]);
    expect(await cached.groupsByGid?.([7, 2])).toEqual([
      { gid: 7, name: null },
      { gid: 2, name: 'g2' },
    ]);
    fail = true;
    await expect(cached.groupsByGid?.([2, 3])).rejects.toThrow('down');
    fail = false;
    // Within failureTtlMs the failure stands (no new call); after it, the gid is asked for again.
    await expect(cached.groupsByGid?.([3])).rejects.toThrow('down');
    now = 1001;
    expect(await cached.groupsByGid?.([3])).toEqual([{ gid: 3, name: 'g3' }]);
    expect(calls).toEqual([[1, 2, 7], [3], [3]]);
  });
});
