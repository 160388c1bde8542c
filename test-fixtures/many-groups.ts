// A real user holding 65,535 supplementary groups: a user namespace over the user's subordinate ids
// (newuidmap/newgidmap from Debian's uidmap, with the ranges usermod --add-sub*ids records), inside which
// the process, root there, calls setgroups on every mapped gid. A server outside sees the host gids.
import { execFileSync, spawn } from 'node:child_process';
import { createTestGroup, createTestUser, removeTestGroup, removeTestUser } from './users.js';

export interface ManyGroupsUser {
  name: string;
  uid: number;
  gid: number;
  /** First host id of the subordinate range: inner id n (1..count) is host id `base + n - 1`. */
  base: number;
  /** Supplementary groups the client holds (inner 1..count). */
  count: number;
}

/** Creates the user and its group, with subordinate uids and gids base..base+count-1. */
export function createManyGroupsUser(user: ManyGroupsUser): void {
  removeManyGroupsUser(user);
  createTestGroup(user.name, user.gid);
  createTestUser(user.name, { uid: user.uid, gid: user.gid });
  const range = `${user.base}-${user.base + user.count - 1}`;
  execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, user.name], { stdio: 'pipe' });
}

/** Removes the user (userdel drops its subordinate ranges too) and its group. */
export function removeManyGroupsUser(user: ManyGroupsUser): void {
  removeTestUser(user.name);
  removeTestGroup(user.name);
}

/**
 * The command prefix that runs a program as `user`, as root of a user namespace over its subordinate ids
 * (inner id n is host id `base + n - 1`); `setgroups` lets the program call setgroups there.
 */
export function inSubordinateNamespace(user: ManyGroupsUser, setgroups = false): string[] {
  const map = `${user.base},1,${user.count}`;
  return [
    'setpriv',
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    '--clear-groups',
    '--',
    'unshare',
    '--map-user=0',
    '--map-group=0',
    `--map-users=${map}`,
    `--map-groups=${map}`,
    ...(setgroups ? ['--setgroups=allow'] : []),
  ];
}

// Inside the namespace: take every mapped gid as a supplementary group, connect, print what the server
// sends (then "|EOF"), or "ERR code".
const CLIENT = `
process.setgroups(Array.from({ length: Number(process.argv[2]) }, (_, i) => i + 1));
const c = require('node:net').connect(process.argv[1]);
let d = '';
c.on('data', (x) => { d += x; });
c.on('close', () => { process.stdout.write(d + '|EOF'); });
c.on('error', (e) => { process.stdout.write('ERR ' + e.code); c.destroy(); });
`;

/** Connects to `socketPath` as `user` holding all its subordinate gids; resolves with what the server sent. */
export function connectWithManyGroups(user: ManyGroupsUser, socketPath: string): Promise<string> {
  const [command, ...prefix] = inSubordinateNamespace(user, true);
  return new Promise((resolve, reject) => {
    const child = spawn(
      command!,
      [...prefix, process.execPath, '-e', CLIENT, socketPath, String(user.count)],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && out.endsWith('|EOF')) resolve(out.slice(0, -'|EOF'.length));
      else if (out.startsWith('ERR ')) resolve(out);
      else reject(new Error(`namespace client exited ${code}: ${err}${out}`));
    });
  });
}
