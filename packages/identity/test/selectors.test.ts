import { describe, expect, it } from 'vitest';
import { buildSelectors } from '../src/index.js';

describe('SPIRE unix selectors', () => {
  it('lists every selector with a known value, in SPIRE naming', () => {
    expect(
      buildSelectors({
        creds: { pid: 10, uid: 1000, gid: 100, groups: [100, 27] },
        username: 'alice',
        primaryGroup: 'users',
        supplementary: [
          { gid: 100, name: 'users' },
          { gid: 27, name: 'sudo' },
        ],
        process: { pid: 10, exePath: '/usr/bin/python3.12', sha256: 'f'.repeat(64) },
      }),
    ).toEqual([
      'unix:uid:1000',
      'unix:user:alice',
      'unix:gid:100',
      'unix:group:users',
      'unix:supplementary_gid:100',
      'unix:supplementary_group:users',
      'unix:supplementary_gid:27',
      'unix:supplementary_group:sudo',
      'unix:path:/usr/bin/python3.12',
      `unix:sha256:${'f'.repeat(64)}`,
    ]);
  });

  it('leaves out what is unknown: user, group names, path, sha256', () => {
    expect(
      buildSelectors({
        creds: { pid: null, uid: 5, gid: 5, groups: null },
        username: null,
        primaryGroup: null,
        supplementary: [{ gid: 7, name: null }],
      }),
    ).toEqual(['unix:uid:5', 'unix:gid:5', 'unix:supplementary_gid:7']);
  });

  it('has a path but no sha256 when the executable was not hashed', () => {
    const selectors = buildSelectors({
      creds: { pid: 3, uid: 0, gid: 0, groups: [] },
      username: 'root',
      primaryGroup: 'root',
      supplementary: [],
      process: { pid: 3, exePath: '/sbin/init' },
    });
    expect(selectors).toContain('unix:path:/sbin/init');
    expect(selectors.some((s) => s.startsWith('unix:sha256:'))).toBe(false);
  });
});
