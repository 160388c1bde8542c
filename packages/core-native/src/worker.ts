// Pool worker (piscina). Loads the same addon as the main thread and runs the blocking calls:
// NSS lookups and executable hashing. Results and errors go back as plain data (protocol.ts).
import { nativeBinding } from './addon.js';
import { errnoName } from './errno.js';
import { PeerCredentialsUnavailableError } from './errors.js';
import { type ProcessInfoSteps, processInfo, WireFailure } from './process-info.js';
import type { Task, TaskResult, WireError } from './protocol.js';

type Native = ReturnType<typeof nativeBinding>;

function run(task: Task, steps: ProcessInfoSteps): unknown {
  const native = nativeBinding();
  switch (task.op) {
    case 'ready':
      // The addon is loaded (above): this worker can answer lookups.
      return true;
    case 'lookupUser':
      return native.getpwuid(task.uid);
    case 'lookupUserByName':
      return native.getpwnam(task.name);
    case 'lookupGroup':
      return native.getgrgid(task.gid);
    case 'lookupGroups':
      return lookupGroups(native, task.gids);
    case 'userGroups':
      return native.getgrouplist(task.name, task.gid);
    case 'userGroupNames':
      return userGroupNames(native, task.name, task.gid);
    case 'processInfo':
      return processInfo(native, task.pid, task.pidfd, task.sha256, task.maxBytes, steps);
  }
  throw new WireFailure({
    kind: 'failed',
    errnoName: null,
    detail: `unknown task ${JSON.stringify((task as { op?: unknown }).op)}`,
  });
}

// A whole group list in one task: a peer's groups cost one round trip, not one per gid. The first
// failure fails the task, naming its gid: a list with a gap must not pass for a complete one.
function lookupGroups(native: Native, gids: number[]): unknown[] {
  return gids.map((gid) => {
    try {
      return native.getgrgid(gid);
    } catch (err) {
      const wire = toWire(err);
      if (wire.kind !== 'failed') throw err;
      throw new WireFailure({ ...wire, detail: `getgrgid_r for gid ${gid}: ${wire.detail}` });
    }
  });
}

// A user's groups and their names in one task (getgrouplist, then getgrgid_r for each), where two tasks
// would cost a second round trip. Only the names cross back: the member lists are not needed.
function userGroupNames(native: Native, name: string, gid: number): { gid: number; name: string | null }[] {
  const gids = [...new Set(native.getgrouplist(name, gid))];
  const entries = lookupGroups(native, gids) as ({ name: string } | null)[];
  return gids.map((g, i) => ({ gid: g, name: entries[i]?.name ?? null }));
}

function toWire(err: unknown): WireError {
  if (err instanceof WireFailure) return err.wire;
  if (err instanceof PeerCredentialsUnavailableError) {
    return { kind: 'unavailable', platform: err.platform, reason: err.reason };
  }
  const e = err as { errno?: number; unsupported?: boolean; message?: string };
  if (e?.unsupported) return { kind: 'unavailable', platform: process.platform, reason: String(e.message) };
  return {
    kind: 'failed',
    errnoName: typeof e?.errno === 'number' ? errnoName(e.errno) : null,
    detail: e?.message ?? String(err),
  };
}

/**
 * Runs one task and reports its result as plain data. `steps` are points inside processInfo that a
 * worker built on this one may stop at; this module's own worker passes none.
 * @internal
 */
export async function handleTask(task: Task, steps: ProcessInfoSteps = {}): Promise<TaskResult> {
  try {
    return { ok: true, value: await run(task, steps) };
  } catch (err) {
    return { ok: false, error: toWire(err) };
  }
}

export default function handle(task: Task): Promise<TaskResult> {
  return handleTask(task);
}
