// `peerauth resolve` has no live process to ask, so its groups (and the roles they give) come from the
// user database; a connected process may hold other groups, which the server uses. resolve says which.
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

describe('peerauth resolve', () => {
  it('says where its groups came from', async () => {
    const r = await runCli(['resolve', '0']);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('groups '));
    expect(line).toBe(
      'groups    from the user database (getgrouplist); a connected process may hold others, and the server uses those',
    );
  });
});
