import type { ChildProcess } from 'node:child_process';

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

/** The children of one exec server, each ended with its whole group, and waited for at shutdown. */
export class ChildGroups {
  private readonly running = new Set<ChildProcess>();
  /** Children whose pipes are still open: a process outside the group may hold them after the group is gone. */
  private readonly piped = new Set<ChildProcess>();
  private readonly ending = new Set<Promise<void>>();

  constructor(private readonly graceMs = KILL_GRACE_MS) {}

  /** Children whose leader still runs. */
  get size(): number {
    return this.running.size;
  }

  add(child: ChildProcess): void {
    this.running.add(child);
    this.piped.add(child);
    const gone = () => this.running.delete(child);
    child.once('exit', gone);
    child.once('error', gone);
    child.once('close', () => this.piped.delete(child));
  }

  /** Ends the child's group (idempotent); the returned promise settles within the grace period. */
  terminate(child: ChildProcess): Promise<void> {
    const done = terminateGroup(child, this.graceMs);
    if (!this.ending.has(done)) {
      this.ending.add(done);
      void done.then(() => this.ending.delete(done));
    }
    return done;
  }

  /** Ends every group still running and resolves when all groups ever ended are gone or have had SIGKILL. */
  async terminateAll(): Promise<void> {
    for (const child of this.running) void this.terminate(child);
    await Promise.all([...this.ending]);
  }

  /** At shutdown, once every group is gone: pipes a process outside the groups still holds must not keep us alive. */
  releaseAll(): void {
    for (const child of this.piped) release(child);
  }
}
