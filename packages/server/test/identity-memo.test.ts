// The memo's last-hit path (a repeat caller found without building its key string) answers exactly what the
// keyed lookup would: another group list, gid or uid is another entry, and an entry gone (expired, cleared,
// replaced) is never answered from it.
import type { PeerCredentials } from '@peerauth/core-native';
import type { UnixIdentity } from '@peerauth/identity';
import { describe, expect, it } from 'vitest';
import { IdentityMemo } from '../src/identity-memo.js';

function creds(uid: number, gid: number, groups: number[] | null, pid = 100): PeerCredentials {
  return { uid, gid, groups, pid } as PeerCredentials;
}

function identity(username: string, pid: number | null = 100): UnixIdentity {
  return { username, pid, groups: [], trail: [], selectors: [] } as unknown as UnixIdentity;
}

describe('IdentityMemo last hit', () => {
  it('tells apart callers that differ only in groups, gid or uid, after a hit', () => {
    const memo = new IdentityMemo(60_000, 1_000, 10);
    memo.remember(creds(1000, 1000, [1000, 27]), identity('alice'));
    expect(memo.get(creds(1000, 1000, [1000, 27]))?.username).toBe('alice');
    expect(memo.get(creds(1000, 1000, [1000]))).toBeUndefined();
    expect(memo.get(creds(1000, 1000, [1000, 28]))).toBeUndefined();
    expect(memo.get(creds(1000, 1000, null))).toBeUndefined();
    expect(memo.get(creds(1000, 1001, [1000, 27]))).toBeUndefined();
    expect(memo.get(creds(1001, 1000, [1000, 27]))).toBeUndefined();
    expect(memo.get(creds(1000, 1000, [1000, 27]))?.username).toBe('alice');
  });

  it("keeps its own copy of the groups: changing the caller's array changes nothing", () => {
    const memo = new IdentityMemo(60_000, 1_000, 10);
    memo.remember(creds(1000, 1000, [1000, 27]), identity('alice'));
    const first = creds(1000, 1000, [1000, 27]);
    expect(memo.get(first)?.username).toBe('alice');
    (first.groups as number[])[1] = 4;
    expect(memo.get(creds(1000, 1000, [1000, 4]))).toBeUndefined();
  });

  it('never answers an entry that expired, was cleared or was replaced', () => {
    let now = 0;
    const memo = new IdentityMemo(1_000, 1_000, 10, () => now);
    memo.remember(creds(1000, 1000, [1000]), identity('alice'));
    expect(memo.get(creds(1000, 1000, [1000]))?.username).toBe('alice');
    now = 1_000;
    expect(memo.get(creds(1000, 1000, [1000]))).toBeUndefined();
    expect(memo.get(creds(1000, 1000, [1000]))).toBeUndefined();
    now = 0;
    memo.remember(creds(1000, 1000, [1000]), identity('alice'));
    expect(memo.get(creds(1000, 1000, [1000]))?.username).toBe('alice');
    memo.clear();
    expect(memo.get(creds(1000, 1000, [1000]))).toBeUndefined();
    memo.remember(creds(1000, 1000, [1000]), identity('alice'));
    expect(memo.get(creds(1000, 1000, [1000]))?.username).toBe('alice');
    memo.remember(creds(1000, 1000, [1000]), identity('renamed'));
    expect(memo.get(creds(1000, 1000, [1000]))?.username).toBe('renamed');
  });

  it('an entry evicted by newer ones is not answered from the last hit', () => {
    const memo = new IdentityMemo(60_000, 1_000, 1);
    memo.remember(creds(1000, 1000, [1000]), identity('alice'));
    expect(memo.get(creds(1000, 1000, [1000]))?.username).toBe('alice');
    memo.remember(creds(1001, 1001, [1001]), identity('bob'));
    expect(memo.get(creds(1000, 1000, [1000]))).toBeUndefined();
    expect(memo.get(creds(1001, 1001, [1001]))?.username).toBe('bob');
  });
});
