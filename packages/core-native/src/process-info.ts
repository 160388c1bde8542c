// Runs inside a pool worker: names the peer's executable, optionally hashes it, and then proves the
// process is still the one that connected (through its pidfd, or its start time as a fallback).
import { createHash } from 'node:crypto';
import { readFileSync, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { NativeBinding } from './addon.js';
import { errnoName } from './errno.js';
import type { WireError } from './protocol.js';

export interface ProcessInfo {
  pid: number;
  exePath: string;
  sha256?: string;
}

/**
 * Points inside processInfo where the caller's code runs, so that a worker built on the pool's worker can
 * hold a lookup at an exact step (a stalled read, a process that ends mid-lookup). The pool's worker
 * passes none.
 * @internal
 */
export interface ProcessInfoSteps {
  /** The executable is open for hashing and not yet read. */
  opened?(): void;
  /** The executable was named (and hashed if asked) and the liveness check is next. */
  beforeLivenessCheck?(): void;
}

/**
 * A failure inside a pool worker, carried as the plain WireError the pool understands. It has no PEERAUTH_
 * code because it never leaves the worker: handleTask (worker.ts) catches every throw of a task and sends
 * only `wire` back, never this object or its message, and the pool turns that data into the typed error of
 * this package's table (pool.ts toError: PEERAUTH_PEER_PROCESS_EXITED, PEERAUTH_EXECUTABLE_TOO_LARGE,
 * PEERAUTH_PEER_CREDENTIALS_UNAVAILABLE, PEERAUTH_LOOKUP_FAILED). Neither this module nor the worker is exported.
 */
export class WireFailure extends Error {
  constructor(readonly wire: WireError) {
    super(wire.kind);
  }
}

const GONE = new Set(['ENOENT', 'ESRCH']);
const CHUNK = 1 << 20;

function nativeErrno(err: unknown): { name: string | null; unsupported: boolean } {
  const e = err as { errno?: number; unsupported?: boolean };
  return {
    name: typeof e?.errno === 'number' ? errnoName(e.errno) : null,
    unsupported: e?.unsupported === true,
  };
}

function fail(pid: number, what: string, err: unknown): never {
  const { name, unsupported } = nativeErrno(err);
  if (unsupported) {
    throw new WireFailure({
      kind: 'unavailable',
      platform: process.platform,
      reason: `${what} is not supported`,
    });
  }
  if (name && GONE.has(name)) throw new WireFailure({ kind: 'exited', pid, detail: `${what}: ${name}` });
  throw new WireFailure({
    kind: 'failed',
    errnoName: name,
    detail: `${what} for pid ${pid}: ${String(err)}`,
  });
}

function startTime(native: NativeBinding, pid: number): string | null {
  try {
    return native.startTime(pid);
  } catch (err) {
    if (nativeErrno(err).unsupported) return null;
    return fail(pid, 'reading the start time', err);
  }
}

// The file is opened as a FileHandle because Node closes FileHandles when a worker is terminated
// (a timeout), whereas a plain fd opened in the worker would leak. Reads are synchronous on its fd:
// this is a worker thread, and it keeps the process-wide libuv threadpool free for the main thread.
async function hashFile(
  openPath: string,
  shownPath: string,
  maxBytes: number,
  pid: number,
  opened: (() => void) | undefined,
): Promise<string> {
  let file: FileHandle;
  try {
    file = await open(openPath, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? null;
    if (code && GONE.has(code))
      throw new WireFailure({ kind: 'exited', pid, detail: `opening ${openPath}: ${code}` });
    throw new WireFailure({ kind: 'failed', errnoName: code, detail: `opening ${openPath}: ${String(err)}` });
  }
  try {
    opened?.();
    if ((await file.stat()).size > maxBytes)
      throw new WireFailure({ kind: 'tooLarge', path: shownPath, maxBytes });
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(CHUNK);
    let total = 0;
    for (;;) {
      const n = readSync(file.fd, chunk, 0, CHUNK, total);
      if (n === 0) break;
      total += n;
      // The file may have grown after stat: never return the hash of a prefix.
      if (total > maxBytes) throw new WireFailure({ kind: 'tooLarge', path: shownPath, maxBytes });
      hash.update(chunk.subarray(0, n));
    }
    return hash.digest('hex');
  } finally {
    await file.close();
  }
}

/**
 * The pidfd (if any) stays owned by the main thread, which closes it once the task settles.
 * @internal
 */
export async function processInfo(
  native: NativeBinding,
  pid: number,
  pidfd: number | null,
  sha256: boolean,
  maxBytes: number,
  steps: ProcessInfoSteps = {},
): Promise<ProcessInfo> {
  const usePidfd = pidfd !== null && native.pidfdAlive(pidfd) !== native.resultUnsupported;
  if (usePidfd && pidfd !== null) {
    assertPidfdNames(pid, pidfd);
    assertAlive(native, pid, pidfd);
  }
  const before = usePidfd ? null : startTime(native, pid);

  let exePath: string;
  try {
    exePath = native.exePath(pid);
  } catch (err) {
    fail(pid, 'reading the executable path', err);
  }
  const info: ProcessInfo = { pid, exePath };
  if (sha256) {
    // /proc/<pid>/exe opens the very file the process runs, even if its path was replaced since.
    const openPath = process.platform === 'linux' ? `/proc/${pid}/exe` : exePath;
    info.sha256 = await hashFile(openPath, exePath, maxBytes, pid, steps.opened);
  }

  steps.beforeLivenessCheck?.();

  if (usePidfd && pidfd !== null) {
    assertAlive(native, pid, pidfd);
  } else if (before !== null) {
    const after = startTime(native, pid);
    if (after !== before)
      throw new WireFailure({ kind: 'exited', pid, detail: 'start time changed during lookup' });
  }
  return info;
}

// A pidfd for some other process would make the liveness check meaningless: the kernel names the
// pidfd's process in /proc/self/fdinfo ("Pid:", -1 once it has been reaped).
function assertPidfdNames(pid: number, pidfd: number): void {
  let fdinfo: string;
  try {
    fdinfo = readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? null;
    throw new WireFailure({ kind: 'failed', errnoName: code, detail: `pidfd ${pidfd} is not an open fd` });
  }
  const m = /^Pid:\s*(-?\d+)/m.exec(fdinfo);
  if (!m) throw new WireFailure({ kind: 'failed', errnoName: null, detail: `fd ${pidfd} is not a pidfd` });
  const named = Number(m[1]);
  if (named === -1)
    throw new WireFailure({ kind: 'exited', pid, detail: 'pidfd reports the process was reaped' });
  if (named !== pid) {
    throw new WireFailure({
      kind: 'failed',
      errnoName: null,
      detail: `pidfd ${pidfd} refers to pid ${named}, not ${pid}`,
    });
  }
}

function assertAlive(native: NativeBinding, pid: number, pidfd: number): void {
  const rc = native.pidfdAlive(pidfd);
  if (rc === 0) return;
  const name = errnoName(rc);
  if (name === 'ESRCH')
    throw new WireFailure({ kind: 'exited', pid, detail: 'pidfd reports the process is gone' });
  throw new WireFailure({ kind: 'failed', errnoName: name, detail: `checking pidfd ${pidfd} of pid ${pid}` });
}
