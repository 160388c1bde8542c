import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { becomeChildSubreaper, reapOrphan } from '@peerauth/core-native';
import { attribute, scanProcesses } from './descendants.js';

/** How long a process group has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2000;
const POLL_MS = 50;

/** Sends `signal` to every process of the group; false once the group has no process left. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // EPERM: members we may not signal are still members.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const ending = new WeakMap<ChildProcess, Promise<void>>();

/**
 * Ends a child spawned with `detached: true` (so it leads its own process group) together with everything
 * it started: SIGTERM to the group, then SIGKILL to whatever is left after `graceMs`. Resolves once the
 * group is empty or has had SIGKILL, so a caller waits at most `graceMs` whatever the processes do.
 * Calling it again for the same child returns the same promise.
 *
 * The group id is the leader's pid. The kernel does not reuse it while any process of the group lives, and
 * the group is signalled only until it is seen empty, so an unrelated process would have to take that pid
 * and lead a group of its own within one poll interval to be hit.
 */
export function terminateGroup(child: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
  const known = ending.get(child);
  if (known) return known;
  const pgid = child.pid;
  const done =
    pgid === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          if (!signalGroup(pgid, 'SIGTERM')) return resolve();
          const started = Date.now();
          const poll = setInterval(() => {
            if (!signalGroup(pgid, 0)) {
              clearInterval(poll);
              resolve();
            } else if (Date.now() - started >= graceMs) {
              clearInterval(poll);
              signalGroup(pgid, 'SIGKILL');
              release(child);
              resolve();
            }
          }, POLL_MS);
        });
  ending.set(child, done);
  return done;
}

/**
 * After SIGKILL only a process that left the group (setsid) can still hold the child's pipes: they must not
 * keep this process alive at shutdown.
 */
function release(child: ChildProcess): void {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as { unref?: () => void } | null)?.unref?.();
  }
}

/** One connection's child and, where descendants are tracked, every process it started. */
interface Family {
  child: ChildProcess;
  marker: string;
  /** Live descendants found at the last scan (the child itself included while it runs). */
  members: Set<number>;
  /** Set once the family is being ended: when SIGTERM went to its members, and whether SIGKILL did. */
  ending: { since: number; killed: boolean } | null;
  /** Resolved once nothing of the family is left. */
  gone: Promise<void>;
  resolveGone: () => void;
}

const SCAN_MS = 100;

/**
 * The children of one exec server, each ended with everything it started, and waited for at shutdown.
 * With `tracker` (Linux, this process a subreaper) a child's family is every descendant, whatever process
 * group or session it made: a scan of /proc every SCAN_MS places each one, and the family holds its slot
 * until the last of them is gone. Without it, the child's process group is the family.
 */
export class ChildGroups {
  private readonly families = new Map<ChildProcess, Family>();
  /** Children whose pipes are still open: a process outside the group may hold them after the group is gone. */
  private readonly piped = new Set<ChildProcess>();
  private readonly ending = new Set<Promise<void>>();
  private scanner: NodeJS.Timeout | null = null;

  constructor(
    private readonly graceMs = KILL_GRACE_MS,
    private readonly tracker: DescendantTracker | null = null,
  ) {}

  /** Families with anything left: a child still running or, when tracked, any process it started. */
  get size(): number {
    return this.families.size;
  }

  /** The environment variable for a child about to start, naming its family (see descendants.ts). */
  newMarker(): string {
    return randomUUID();
  }

  add(child: ChildProcess, marker = this.newMarker()): void {
    let resolveGone = () => {};
    const gone = new Promise<void>((resolve) => {
      resolveGone = resolve;
    });
    const family: Family = { child, marker, members: new Set(), ending: null, gone, resolveGone };
    this.families.set(child, family);
    this.piped.add(child);
    const exited = () => {
      if (this.tracker === null) this.forget(family);
      else this.scanSoon();
    };
    child.once('exit', exited);
    child.once('error', exited);
    child.once('close', () => this.piped.delete(child));
    if (this.tracker !== null && this.scanner === null) {
      this.scanner = setInterval(() => this.scan(), SCAN_MS);
      this.scanner.unref();
    }
  }

  private forget(family: Family): void {
    if (!this.families.delete(family.child)) return;
    family.resolveGone();
    if (this.families.size === 0 && this.scanner !== null) {
      clearInterval(this.scanner);
      this.scanner = null;
    }
  }

  private scanSoon(): void {
    setImmediate(() => this.scan());
  }

  /** Places every descendant, signals the families being ended, collects orphans, frees empty families. */
  private scan(): void {
    const tracker = this.tracker;
    if (tracker === null) return;
    const roots = new Map<number, Family>();
    const byMarker = new Map<string, Family>();
    for (const family of this.families.values()) {
      if (family.child.pid !== undefined) roots.set(family.child.pid, family);
      byMarker.set(family.marker, family);
    }
    const { owners, strays } = tracker.scan(roots, (marker) => byMarker.get(marker));
    for (const family of this.families.values()) family.members.clear();
    for (const [pid, family] of owners) family.members.add(pid);
    // A descendant that belongs to no connection (it dropped its marker and was orphaned between scans)
    // cannot be let run: no connection's end would ever end it.
    for (const pid of strays) signalPid(pid, 'SIGKILL');
    const now = Date.now();
    for (const family of [...this.families.values()]) {
      const childRuns = family.child.exitCode === null && family.child.signalCode === null;
      if (!childRuns && family.members.size === 0) {
        this.forget(family);
        continue;
      }
      const { ending } = family;
      if (ending === null) continue;
      if (!ending.killed && now - ending.since >= this.graceMs) ending.killed = true;
      // Every scan, so a process forked after the last signal gets it too.
      for (const pid of family.members) signalPid(pid, ending.killed ? 'SIGKILL' : 'SIGTERM');
    }
  }

  /** Ends the child's family (idempotent); the returned promise settles within the grace period (and a bit). */
  terminate(child: ChildProcess): Promise<void> {
    const family = this.families.get(child);
    const group = terminateGroup(child, this.graceMs);
    let done = group;
    if (family !== undefined && this.tracker !== null) {
      family.ending ??= { since: Date.now(), killed: false };
      this.scanSoon();
      // Bounded like the group's end: a process that will not die (uninterruptible sleep) keeps its slot,
      // not the caller.
      done = Promise.all([group, Promise.race([family.gone, delay(this.graceMs + 1000)])]).then(() => {});
    }
    if (!this.ending.has(done)) {
      this.ending.add(done);
      void done.then(() => this.ending.delete(done));
    }
    return done;
  }

  /** Ends every family still running and resolves when all are gone or have had SIGKILL. */
  async terminateAll(): Promise<void> {
    for (const child of this.families.keys()) void this.terminate(child);
    await Promise.all([...this.ending]);
  }

  /** At shutdown, once every group is gone: pipes a process outside the groups still holds must not keep us alive. */
  releaseAll(): void {
    for (const child of this.piped) release(child);
    if (this.scanner !== null) clearInterval(this.scanner);
    this.scanner = null;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone since the scan.
  }
}

/** Finds the descendants of this process and collects the orphans that ended (Linux, as subreaper). */
export class DescendantTracker {
  private readonly self = process.pid;

  /** A tracker, once this process is the subreaper of its descendants; null where that is not possible. */
  static start(): DescendantTracker | null {
    if (process.platform !== 'linux') return null;
    return becomeChildSubreaper() ? new DescendantTracker() : null;
  }

  scan<T>(
    roots: Map<number, T>,
    byMarker: (marker: string) => T | undefined,
  ): { owners: Map<number, T>; strays: number[] } {
    const procs = scanProcesses();
    for (const [pid, entry] of procs) {
      // An ended orphan is ours to collect; a child Node spawned is Node's (its exit status is its 'exit').
      if (entry.state === 'Z' && entry.ppid === this.self && !roots.has(pid)) reapOrphan(pid);
    }
    const owners = new Map<number, T>();
    const strays: number[] = [];
    for (const [pid, owner] of attribute(procs, this.self, roots, byMarker)) {
      if (owner === null) strays.push(pid);
      else owners.set(pid, owner);
    }
    return { owners, strays };
  }
}
