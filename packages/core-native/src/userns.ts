// Inside a user namespace the kernel reports a peer whose uid or gid has no mapping there as the overflow
// id (/proc/sys/kernel/overflowuid and overflowgid, 65534 by default): "I cannot tell you", not the user
// nobody. Only in the initial namespace is an overflow id a real one.
import { readFileSync } from 'node:fs';

export interface OverflowIds {
  uid: number;
  gid: number;
}

const DEFAULT_OVERFLOW = 65534;
// The identity map of the initial user namespace: all 2^32-1 ids mapped onto themselves.
const INITIAL_MAP = /^\s*0\s+0\s+4294967295\s*$/;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function overflowId(path: string): number {
  const n = Number.parseInt(read(path) ?? '', 10);
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_OVERFLOW;
}

let cached: OverflowIds | null | undefined;

/**
 * The overflow ids when this process is in a non-initial user namespace, else null. Read once: a Node
 * process does not change its user namespace. Where the maps cannot be read the namespace is unknown, so
 * the overflow ids are treated as unmapped (fail closed).
 */
export function namespaceOverflowIds(): OverflowIds | null {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') {
    cached = null;
    return cached;
  }
  const uidMap = read('/proc/self/uid_map');
  const gidMap = read('/proc/self/gid_map');
  const initial = uidMap !== null && gidMap !== null && INITIAL_MAP.test(uidMap) && INITIAL_MAP.test(gidMap);
  cached = initial
    ? null
    : { uid: overflowId('/proc/sys/kernel/overflowuid'), gid: overflowId('/proc/sys/kernel/overflowgid') };
  return cached;
}
