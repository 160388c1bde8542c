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

/** Every process now: pid → parent and state. Processes that end during the read are left out. */
export function scanProcesses(): Map<number, ProcEntry> {
  const found = new Map<number, ProcEntry>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue;
    }
    // The name is in parentheses and may hold anything: the fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    found.set(pid, { state: fields[0] ?? '?', ppid: Number(fields[1]) });
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
