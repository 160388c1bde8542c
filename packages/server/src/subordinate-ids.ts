// Who a uid belongs to for fair sharing of the pool. A user given subordinate uids (/etc/subuid, as
// Debian's useradd does for every account: 65,536 of them) can connect from each of them through a user
// namespace; counted per uid, that one user would be 65,536 callers and could take every worker. A uid in
// a subordinate range counts as that range's owner. Read at most once a second, and again only when the
// file changed; a file that cannot be read, or is larger than a sane one, means no ranges (each uid counts
// for itself, as before).
import fs from 'node:fs';

export const SUBUID_FILE = '/etc/subuid';
const MAX_BYTES = 4 * 1024 * 1024;
const RECHECK_MS = 1000;

interface Range {
  first: number;
  last: number;
  owner: string;
}

/** The ranges of an /etc/subuid text (`owner:first:count` lines), sorted by first id. */
export function parseSubordinateIds(text: string): Range[] {
  const ranges: Range[] = [];
  for (const line of text.split('\n')) {
    const m = /^([^:#\s][^:]*):(\d+):(\d+)\s*$/.exec(line);
    if (!m) continue;
    const first = Number(m[2]);
    const count = Number(m[3]);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || count < 1) continue;
    ranges.push({ first, last: first + count - 1, owner: m[1] as string });
  }
  return ranges.sort((a, b) => a.first - b.first);
}

function ownerIn(ranges: readonly Range[], uid: number): string | null {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as Range;
    if (uid < r.first) hi = mid - 1;
    else if (uid > r.last) lo = mid + 1;
    else return r.owner;
  }
  return null;
}

/** `key(uid)`: `sub:OWNER` for a uid in OWNER's subordinate range, else the uid itself. */
export function subordinateOwners(
  file = SUBUID_FILE,
  now: () => number = Date.now,
): { key(uid: number): string | number } {
  let ranges: Range[] = [];
  let checkedAt = Number.NEGATIVE_INFINITY;
  let stamp = '';
  const refresh = (): void => {
    checkedAt = now();
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      ranges = [];
      stamp = '';
      return;
    }
    const next = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (next === stamp) return;
    stamp = next;
    try {
      ranges = st.size > MAX_BYTES ? [] : parseSubordinateIds(fs.readFileSync(file, 'utf8'));
    } catch {
      ranges = [];
    }
  };
  return {
    key(uid) {
      if (now() - checkedAt >= RECHECK_MS) refresh();
      const owner = ranges.length === 0 ? null : ownerIn(ranges, uid);
      return owner === null ? uid : `sub:${owner}`;
    },
  };
}
