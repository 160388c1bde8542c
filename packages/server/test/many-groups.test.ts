// A user holding 65,535 groups (a user namespace over its subordinate gids): naming them all was one pool
// task of 65,535 getgrgid_r calls per connection, past the lookup deadline and never cached, and a
// refusal's audit line listed every gid. Now at most maxGroupNames gids are named per connection,
// `gid:N` keys still match the rest by number, and a line lists a few gids and counts the rest.
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import {
  createResolver,
  DEFAULT_MAX_GROUP_NAMES,
  type Identity,
  type UserDirectory,
} from '@peerauth/identity';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  connectWithManyGroups,
  createManyGroupsUser,
  type ManyGroupsUser,
  removeManyGroupsUser,
} from '../../../test-fixtures/many-groups.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { describeWithTools } from '../../../test-fixtures/tools.js';
import { createPeerServer, type PeerServer, poolDirectory } from '../src/index.js';
import type { PoolDirectory } from '../src/pool-directory.js';
import { makeTempDir, recordingLogger, removeDir, unix } from './helpers.js';

const USER: ManyGroupsUser = { name: 'pa26-many', uid: 44961, gid: 44961, base: 4_100_000, count: 65_535 };
// Inner gid 65,000: far past the cap, matched only by its number.
const FAR_GID = USER.base + 65_000 - 1;

/** The pool directory, counting the gids it is asked to name; `fail` makes naming fail as NSS might. */
function namingDirectory(pool: PoolDirectory, fail = false): UserDirectory & { named: number[] } {
  const named: number[] = [];
  return {
    named,
    userByUid: (uid) => pool.userByUid(uid),
    groupsOf: (name, gid) => pool.groupsOf(name, gid),
    groupsByGid: (gids) => {
      named.push(...gids);
      if (fail) return Promise.reject(new Error('getgrgid_r: EIO'));
      return pool.groupsByGid(gids);
    },
  };
}

describeAsRoot('a peer holding 65,535 groups (user namespace over subordinate gids)', () => {
  describeWithTools('with newuidmap and newgidmap', ['newuidmap', 'newgidmap', 'unshare'], () => {
    let dir: string;
    let pool: PoolDirectory;
    const servers: PeerServer[] = [];

    beforeAll(async () => {
      createManyGroupsUser(USER);
      dir = makeTempDir('pa26-groups-');
      // The client runs as USER: it must reach the socket.
      fs.chmodSync(dir, 0o755);
      pool = poolDirectory();
      // The servers use this pool through their resolvers, so they do not start it themselves.
      await pool.pool.ready?.();
    });

    afterAll(async () => {
      for (const s of servers) await s.close();
      await pool.close();
      removeDir(dir);
      removeManyGroupsUser(USER);
    });

    const seen: Identity[] = [];
    async function serve(directory: UserDirectory, name: string) {
      const logger = recordingLogger();
      const server = createPeerServer({
        path: path.join(dir, `${name}.sock`),
        mode: 0o666,
        logger,
        identity: createResolver(
          { people: [], fallbackRole: 'guest', groupRoles: { [`gid:${FAR_GID}`]: 'operator' } },
          directory,
        ),
      });
      servers.push(server);
      server.on('peer', (socket: net.Socket, identity: Identity) => {
        seen.push(identity);
        const role = identity.trail.find((s) => s.stage === 'role');
        socket.end(
          JSON.stringify({
            role: identity.role,
            groups: unix(identity).groups?.length,
            detail: role?.detail,
          }),
        );
      });
      await new Promise<void>((resolve) => server.listen(resolve));
      return { server, logger, socket: server.path as string };
    }

    it('names at most maxGroupNames gids, and a gid:N key still matches a gid past the cap', async () => {
      const directory = namingDirectory(pool);
      const { socket, logger } = await serve(directory, 'named');
      const raw = await connectWithManyGroups(USER, socket);
      const refused = logger.records.find((r) => r.obj.decision === 'rejected');
      expect(refused?.obj.reason ?? null).toBeNull();
      const answer = JSON.parse(raw) as {
        role: string;
        groups: number;
        detail: string;
      };
      expect(answer.groups).toBe(USER.count);
      expect(directory.named.length).toBeLessThanOrEqual(DEFAULT_MAX_GROUP_NAMES);
      expect(answer.role).toBe('operator');
      // A second connection costs no more naming than the first.
      const before = directory.named.length;
      await connectWithManyGroups(USER, socket);
      expect(directory.named.length - before).toBeLessThanOrEqual(DEFAULT_MAX_GROUP_NAMES);
    }, 120_000);

    it('an identity with a huge group set is not remembered: varying sets cannot fill the memo with 400 KB keys', async () => {
      const { socket } = await serve(namingDirectory(pool), 'unremembered');
      const from = seen.length;
      await connectWithManyGroups(USER, socket);
      await connectWithManyGroups(USER, socket);
      const [first, second] = seen.slice(from);
      expect(unix(first!).groups?.length).toBe(USER.count);
      // A remembered identity is frozen and shared by the next connection of the same credentials.
      expect(Object.isFrozen(first)).toBe(false);
      expect(second).not.toBe(first);
    }, 120_000);

    it('a refusal names a few gids and counts the rest', async () => {
      const { logger, socket } = await serve(namingDirectory(pool, true), 'refused');
      expect(await connectWithManyGroups(USER, socket)).toBe('');
      const refusal = logger.records.find((r) => r.obj.decision === 'rejected');
      const reason = String(refusal?.obj.reason);
      expect(reason).toMatch(/groupsByGid/);
      expect(reason).toMatch(/ and \d+ more/);
      expect(reason.length).toBeLessThan(1024);
      const warned = JSON.stringify(logger.records.filter((r) => r.obj.decision !== 'rejected'));
      expect(warned.length).toBeLessThan(8192);
    }, 120_000);
  });
});
