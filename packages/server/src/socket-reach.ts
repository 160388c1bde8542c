// Whether the users a socket mode admits can actually reach the socket. To connect, a client needs search
// (x) permission on every directory of the path; a mode of 0666 in the 0700 default directory admits
// nobody else, and EACCES is all they would see.
import fs from 'node:fs/promises';
import path from 'node:path';
import { formatOctal } from './socket-directory.js';

function serverGid(): number {
  return typeof process.getegid === 'function' ? process.getegid() : 0;
}

/**
 * A warning naming the first directory on the way to `socketPath` that keeps out the group or the others
 * that `mode` grants access to, and the fix; null when every directory lets them through.
 */
export async function socketReachWarning(socketPath: string, mode: number): Promise<string | null> {
  const others = (mode & 0o006) !== 0;
  const group = (mode & 0o060) !== 0;
  if (!others && !group) return null;
  const gid = serverGid();
  for (let dir = path.dirname(path.resolve(socketPath)); ; dir = path.dirname(dir)) {
    let st: { mode: number; gid: number };
    try {
      st = await fs.stat(dir);
    } catch {
      return null;
    }
    const othersPass = (st.mode & 0o001) !== 0;
    const groupPass = othersPass || (st.gid === gid && (st.mode & 0o010) !== 0);
    const blocked = others && !othersPass ? 'other users' : group && !groupPass ? 'the group' : null;
    if (blocked) {
      return (
        `socket mode ${formatOctal(mode)} admits ${blocked}, but directory ${dir} (mode ` +
        `${formatOctal(st.mode & 0o7777)}) does not let them through, so they get EACCES. Put the socket in a ` +
        'shared directory such as /run/peerauth (mode 0755) and pass --socket /run/peerauth/peerauth.sock'
      );
    }
    if (dir === path.dirname(dir)) return null;
  }
}
