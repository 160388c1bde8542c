// pool.lookupGroups: the names of a whole group list (the kernel's, for one peer) in one worker task,
// with lookup failures reported as typed errors rather than as "no such group".
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { createTestGroup, removeTestGroup } from '../../../test-fixtures/users.js';
import { LookupFailedError } from '../src/index.js';
import { createTestPool } from './helpers.js';

const GROUP = { name: 'pa11-cn-g', gid: 44301 };
const NO_ENTRY_GID = 44399;
const fixture = join(import.meta.dirname, 'fixtures/lookup-groups.mjs');

function runFixture(gids: number[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fixture, ...gids.map(String)], { env, timeout: 30_000 }, (err, stdout) => {
      if (err && !stdout) reject(err);
      else resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

describe('lookupGroups', () => {
  it('answers one entry per gid, in order, null for a gid without a group entry', async () => {
    const pool = createTestPool({ threads: 1 });
    try {
      const root = await pool.lookupGroup(0);
      expect(await pool.lookupGroups([0, NO_ENTRY_GID, 0])).toEqual([root, null, root]);
      expect(await pool.lookupGroups([])).toEqual([]);
      await expect(pool.lookupGroups([-1])).rejects.toBeInstanceOf(TypeError);
    } finally {
      await pool.close();
    }
  });
});

describeAsRoot('lookupGroups with a failing NSS (LD_PRELOAD)', () => {
  beforeAll(() => {
    removeTestGroup(GROUP.name);
    createTestGroup(GROUP.name, GROUP.gid);
  });
  afterAll(() => removeTestGroup(GROUP.name));

  it('works without faults', async () => {
    const out = await runFixture([GROUP.gid, NO_ENTRY_GID], nssFaultEnv([]));
    expect(out).toEqual({ ok: true, value: [{ gid: GROUP.gid, name: GROUP.name, members: [] }, null] });
  });

  it.each(['EIO', 'ERANGE'])(
    'a getgrgid_r failing with %s rejects with LookupFailedError naming the gid',
    async (errno) => {
      const out = await runFixture(
        [0, GROUP.gid],
        nssFaultEnv([{ call: 'getgrgid_r', key: GROUP.gid, action: errno }]),
      );
      expect(out).toMatchObject({ ok: false, name: LookupFailedError.name, code: 'PEERAUTH_LOOKUP_FAILED' });
      expect(out.message).toContain(`gid ${GROUP.gid}`);
      expect(out.message).toContain(errno);
    },
  );

  it('a getgrgid_r that sleeps past the pool timeout rejects with PEERAUTH_LOOKUP_TIMEOUT', async () => {
    const out = await runFixture(
      [GROUP.gid],
      nssFaultEnv([{ call: 'getgrgid_r', key: GROUP.gid, action: 'sleep2000' }], {
        ...process.env,
        POOL_TIMEOUT_MS: '300',
      }),
    );
    expect(out).toMatchObject({ ok: false, code: 'PEERAUTH_LOOKUP_TIMEOUT' });
  });
});
