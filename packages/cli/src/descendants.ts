// The processes below this one, read from /proc (Linux): who each belongs to, whatever process group or
// session it made. With this process as subreaper an orphan is reparented here, never to init, so every
// descendant is found either through its parent chain or, once orphaned, by the connection marker its
// environment was born with.
import fs from 'node:fs';

/** The environment variable that names a child's connection; every descendant inherits it. */
export const CONNECTION_MARKER = 'PEERAUTH_EXEC_CONNECTION';

export interface ProcEntry {
  ppid: number;
  /** The state letter: R, S, D, Z (zombie), ... */
  state: string;
}

function readEntry(pid: number): ProcEntry | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The name is in parentheses and may hold anything: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]) };
}

/** The children of every thread of `pid`, or null where the kernel has no children files. */
function childrenOf(pid: number): number[] | null {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && pid === process.pid) return null;
      continue;
    }
    for (const child of text.split(' ')) if (child !== '') children.push(Number(child));
  }
  return children;
}

/**
 * The descendants of `self` now: pid → parent and state (processes that end during the read are left out).
 * Walked down through /proc/PID/task/TID/children, so the cost is that of our own processes; a kernel
 * without those files (CONFIG_PROC_CHILDREN off) has every process read instead.
 */
export function scanProcesses(self = process.pid): Map<number, ProcEntry> {
  const found = new Map<number, ProcEntry>();
  const queue = [self];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    const children = childrenOf(parent);
    if (children === null) return scanAll();
    for (const pid of children) {
      if (found.has(pid)) continue;
      const entry = readEntry(pid);
      if (entry === null) continue;
      found.set(pid, entry);
      queue.push(pid);
    }
  }
  return found;
}

function scanAll(): Map<number, ProcEntry> {
  const found = new Map<number, ProcEntry>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const entry = readEntry(pid);
    if (entry !== null) found.set(pid, entry);
  }
  return found;
}

/** The marker a process was started with, or null (gone, a zombie, or started without one). */
export function markerOf(pid: number): string | null {
  let environ: string;
  try {
    environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  const prefix = `${CONNECTION_MARKER}=`;
  for (const entry of environ.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return null;
}

/**
 * Which of `roots` (pid → owner) each live descendant of `self` belongs to: through its parent chain to a
 * root, or, for an orphan reparented to `self`, through its marker (`byMarker`). A descendant that can be
 * placed nowhere maps to null.
 */
export function attribute<T>(
  procs: Map<number, ProcEntry>,
  self: number,
  roots: Map<number, T>,
  byMarker: (marker: string) => T | undefined,
): Map<number, T | null> {
  const owners = new Map<number, T | null>();
  /** undefined: not a descendant of self. */
  const ownerOf = (pid: number, depth: number): T | null | undefined => {
    if (owners.has(pid)) return owners.get(pid);
    const root = roots.get(pid);
    if (root !== undefined) return root;
    const entry = procs.get(pid);
    if (entry === undefined || depth > 512) return undefined;
    let owner: T | null | undefined;
    if (entry.ppid === self) {
      const marker = markerOf(pid);
      owner = (marker === null ? undefined : byMarker(marker)) ?? null;
    } else if (entry.ppid <= 1) owner = undefined;
    else owner = ownerOf(entry.ppid, depth + 1);
    return owner;
  };
  for (const [pid, entry] of procs) {
    if (entry.state === 'Z' || pid === self) continue;
    const owner = ownerOf(pid, 0);
    if (owner !== undefined) owners.set(pid, owner);
  }
  return owners;
}
