// Pool worker (piscina). Loads the same addon as the main thread and runs the blocking calls:
// NSS lookups and executable hashing. Results and errors go back as plain data (protocol.ts).
import { workerData } from 'node:worker_threads';
import { nativeBinding } from './addon.js';
import { errnoName } from './errno.js';
import { PeerCredentialsUnavailableError } from './errors.js';
import { processInfo, WireFailure } from './process-info.js';
import type { Task, TaskResult, WireError, WorkerData } from './protocol.js';

const data = (workerData ?? { testHooks: false }) as WorkerData;

function run(task: Task): unknown {
  const native = nativeBinding();
  switch (task.op) {
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
    case 'processInfo':
      return processInfo(native, task.pid, task.pidfd, task.sha256, task.maxBytes, {
        hangAfterOpen: data.testHooks && task.testHangAfterOpen === true,
        gate: data.testHooks ? task.testGate : undefined,
      });
    case '__test':
      return testHook(task.kind);
  }
}

// A whole group list in one task: a peer's groups cost one round trip, not one per gid. The first
// failure fails the task, naming its gid: a list with a gap must not pass for a complete one.
function lookupGroups(native: ReturnType<typeof nativeBinding>, gids: number[]): unknown[] {
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

// Test-only: stands in for an NSS module that stalls or a native crash in a worker.
function testHook(kind: 'hang' | 'crash'): unknown {
  if (!data.testHooks)
    throw new WireFailure({ kind: 'failed', errnoName: null, detail: 'test hooks are disabled' });
  if (kind === 'hang') {
    // Blocks the worker thread the way a stuck synchronous getpwuid_r would.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600_000);
    return null;
  }
  setImmediate(() => {
    throw new Error('test hook: worker crashed');
  });
  return new Promise(() => {});
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

export default async function handle(task: Task): Promise<TaskResult> {
  try {
    return { ok: true, value: await run(task) };
  } catch (err) {
    return { ok: false, error: toWire(err) };
  }
}
