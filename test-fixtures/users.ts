// Real users and groups for multi-user tests (root only). Every name a test creates is prefixed, so
// cleanup removes only what the tests made and never touches an account that was already there.
import { execFileSync } from 'node:child_process';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function exists(db: 'passwd' | 'group', key: string): boolean {
  try {
    run('getent', [db, key]);
    return true;
  } catch {
    return false;
  }
}

/** Creates a group with a fixed gid; fails if the name or gid is already taken, so nothing existing is reused. */
export function createTestGroup(name: string, gid: number): void {
  run('groupadd', ['-g', String(gid), name]);
}

export function removeTestGroup(name: string): void {
  if (exists('group', name)) run('groupdel', [name]);
}

/**
 * Creates a user whose primary gid differs from its uid and who has the given supplementary groups.
 * The primary group must already exist (createTestGroup).
 */
export function createTestUser(
  name: string,
  opts: { uid: number; gid: number; supplementary?: string[] },
): TestUser {
  const args = ['-M', '-N', '-s', '/usr/sbin/nologin', '-u', String(opts.uid), '-g', String(opts.gid)];
  if (opts.supplementary?.length) args.push('-G', opts.supplementary.join(','));
  run('useradd', [...args, name]);
  const groups = run('id', ['-G', name]).trim().split(/\s+/).map(Number);
  return { name, uid: opts.uid, gid: opts.gid, groups };
}

export function removeTestUser(name: string): void {
  if (exists('passwd', name)) run('userdel', [name]);
}

/** Returns true when no passwd entry has this uid: used to pick uids that are "strangers" to NSS. */
export function uidIsFree(uid: number): boolean {
  return !exists('passwd', String(uid));
}
