// The worker-thread pool for everything that can block: NSS lookups and executable hashing.
// Every call has a timeout; on timeout piscina terminates the worker running it and starts a new
// one, so a stuck NSS module costs one worker, never the event loop.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { nativeBinding } from './addon.js';
import { type CallAbort, Deadlines } from './deadlines.js';
import { errnoName } from './errno.js';
// Most of the package's errors, as index.ts lists them too: these are the ones a pool call can reject with.
import {
  ExecutableTooLargeError,
  LookupFailedError,
  LookupTimeoutError,
  PeerAuthRangeError,
  PeerAuthTypeError,
  PeerCredentialsUnavailableError,
  PeerProcessExitedError,
  PoolBusyError,
  PoolClosedError,
  WorkerCrashedError,
} from './errors.js';
import { FairQueue, SuspectKeys, type TaskKey } from './fair-queue.js';
import type { GroupEntry, UserEntry } from './nss-entries.js';
import type { ProcessInfo } from './process-info.js';
import type { Task, TaskResult, WireError } from './protocol.js';

export type { TaskKey } from './fair-queue.js';
export type { GroupEntry, UserEntry } from './nss-entries.js';
export type { ProcessInfo } from './process-info.js';

export interface CredentialPoolOptions {
  /**
   * Worker threads (default 4). Each caller key runs one task at a time, and a key whose task timed out in
   * the last 30 s may run only on half the workers (2 of 4), so however many callers' lookups hang, the
   * other half serves everyone else. Up to `threads - 1` callers starting to hang at the same moment delay
   * no one; more can hold every worker until the timeout. The pool keeps half as many spare threads
   * started (6 in all by default) so a replaced worker's start delays no call. They mostly wait in NSS.
   */
  threads?: number;
  /** Per-call timeout in ms (default 2000). */
  timeoutMs?: number;
  /**
   * Told about pool failures that belong to no call, such as a worker that could not start because the
   * process ran out of file descriptors. Default: a process warning. Calls that were waiting for that
   * worker fail on their own (WorkerCrashedError or LookupTimeoutError); the next call starts a new one.
   */
  onError?: (err: Error) => void;
}

/**
 * Who a call is for. Calls with the same `key` run one at a time and keys take turns, so one caller cannot
 * take every worker. The server passes the connecting uid (or the owner of its subordinate range). Without
 * a key, lookupUser uses the uid; other calls take turns as callers of their own.
 */
export interface CallOptions {
  key?: TaskKey;
}

export interface CredentialPool {
  lookupUser(uid: number, opts?: CallOptions): Promise<UserEntry | null>;
  lookupUserByName(name: string, opts?: CallOptions): Promise<UserEntry | null>;
  lookupGroup(gid: number, opts?: CallOptions): Promise<GroupEntry | null>;
  /**
   * The group entries of `gids` in one worker task, one per gid in order (null: no such group).
   * Rejects (LookupFailedError naming the gid, or LookupTimeoutError) if any lookup fails.
   */
  lookupGroups(gids: readonly number[], opts?: CallOptions): Promise<(GroupEntry | null)[]>;
  userGroups(name: string, primaryGid: number, opts?: CallOptions): Promise<number[]>;
  /**
   * The groups `name` belongs to (getgrouplist, `primaryGid` included, each gid once) with their names
   * (null: no group entry), in one worker task. Rejects like userGroups and lookupGroups.
   */
  userGroupNames(
    name: string,
    primaryGid: number,
    opts?: CallOptions,
  ): Promise<{ gid: number; name: string | null }[]>;
  /** Takes ownership of peer.pidfd: it is closed exactly once when the call settles. */
  processInfo(
    peer: { pid: number; pidfd?: number | null },
    opts?: { sha256?: boolean; maxBytes?: number } & CallOptions,
  ): Promise<ProcessInfo>;
  /**
   * Resolves once the workers are started and one has answered a task: a server calls it before it listens.
   * Calls made before wait for it before their timeout starts, so no call's deadline includes a worker's
   * start. Rejects (WorkerCrashedError) when no worker can start. Optional for pools written elsewhere.
   */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_THREADS = 4;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function toError(op: string, wire: WireError): Error {
  switch (wire.kind) {
    case 'exited':
      return new PeerProcessExitedError(wire.pid, wire.detail);
    case 'tooLarge':
      return new ExecutableTooLargeError(wire.path, wire.maxBytes);
    case 'unavailable':
      return new PeerCredentialsUnavailableError(wire.platform, wire.reason);
    case 'failed':
      return new LookupFailedError(op, wire.errnoName, wire.detail);
  }
}

function checkId(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new PeerAuthTypeError(`${what} must be an integer between 0 and 4294967295, got ${value}`);
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('\0')) {
    throw new PeerAuthTypeError(
      `user name must be a non-empty string without NUL, got ${JSON.stringify(name)}`,
    );
  }
}

/**
 * What a pool runs its tasks in: createCredentialPool uses worker.js beside this module; tests give their own.
 * @internal
 */
export interface PoolWorker {
  /** Absolute path of the worker's ES module (its default export handles one task). */
  file: string;
  /** Handed to the worker module as workerData.data. */
  data?: unknown;
}

// Piscina runs worker-loader.cjs, which import()s `file`: see there for why not `file` directly.
const workerLoader = fileURLToPath(new URL('./worker-loader.cjs', import.meta.url));

interface Queued {
  key: TaskKey;
  /** Set when it started while its key was suspect: counted against the suspects' share. */
  suspect?: boolean;
  op: string;
  task: object;
  call: CallAbort;
  onAbort: () => void;
  resolve: (result: TaskResult) => void;
  reject: (err: Error) => void;
}

/**
 * A pool on any worker file; not exported from the package (createCredentialPool is the public way in).
 * @internal
 */
export class Pool implements CredentialPool {
  readonly #piscina: Piscina;
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;
  readonly #threads: number;
  readonly #queue = new FairQueue<Queued>();
  readonly #suspects = new SuspectKeys();
  /** Workers keys whose lookups hang may hold at once: half, so the other half stays free for the rest. */
  readonly #suspectShare: number;
  #running = 0;
  #runningSuspect = 0;
  #readying: Promise<void> | null = null;
  #warmed = false;
  #closed = false;

  constructor(options: CredentialPoolOptions, worker: PoolWorker) {
    const threads = options.threads ?? DEFAULT_THREADS;
    if (!Number.isInteger(threads) || threads < 1)
      throw new PeerAuthTypeError(`threads must be a positive integer, got ${threads}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new PeerAuthRangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    this.#timeoutMs = timeoutMs;
    this.#threads = threads;
    this.#suspectShare = Math.max(1, Math.floor(threads / 2));
    this.#deadlines = new Deadlines(timeoutMs);
    this.#piscina = new Piscina({
      filename: workerLoader,
      // Spare threads beyond the `threads` that run tasks: a worker whose task timed out is replaced, and
      // its replacement's start (hundreds of ms on a loaded machine) must not fall on the next caller.
      minThreads: threads + this.#suspectShare,
      maxThreads: threads + this.#suspectShare,
      idleTimeout: Number.POSITIVE_INFINITY,
      // 'sync' parks an idle worker in a blocking Atomics.wait, where its event loop never turns: a worker
      // whose module failed to load could then never leave (worker-loader.cjs). 'async' waits the same way
      // without blocking the loop.
      atomics: 'async',
      workerData: { module: pathToFileURL(worker.file).href, data: worker.data },
    });
    // Unhandled, piscina's 'error' event (a worker that failed to start, e.g. EMFILE opening worker.js)
    // would end the process.
    const onError =
      options.onError ??
      ((err: Error) => process.emitWarning(`credential pool: ${err.message}`, 'PeerAuthWarning'));
    this.#piscina.on('error', (err: Error) => {
      if (!this.#closed) onError(err);
    });
  }

  /**
   * Runs one task under the pool's timeout and error mapping, in its key's turn (see CallOptions). `task`
   * is what the worker file understands (worker.js: protocol.ts's Task); `op` names the call in errors.
   * The deadline starts now: a task waiting behind its own key's stuck one times out like it.
   */
  async run<T>(op: string, task: object, key: TaskKey = Symbol(op)): Promise<T> {
    if (this.#closed) throw new PoolClosedError(op);
    // A worker's start is not part of any call's time: the first calls wait for it before their clocks
    // start. A start that fails leaves the calls to fail on their own, as before.
    if (!this.#warmed) await this.ready().catch(() => {});
    if (this.#closed) throw new PoolClosedError(op);
    const call = this.#deadlines.start();
    let result: TaskResult;
    try {
      result = await new Promise<TaskResult>((resolve, reject) => {
        const item: Queued = {
          key,
          op,
          task,
          call,
          resolve,
          reject,
          onAbort: () => {
            if (this.#queue.remove(item)) reject(new LookupTimeoutError(op, this.#timeoutMs));
          },
        };
        const full = this.#queue.add(item);
        if (full !== null) {
          reject(new PoolBusyError(op, full));
          return;
        }
        call.once('abort', item.onAbort);
        this.#pump();
      });
    } finally {
      this.#deadlines.settle(call);
    }
    if (!result.ok) throw toError(op, result.error);
    return result.value as T;
  }

  /**
   * Starts waiting tasks while workers are free: at most `threads` run, one per key, and at most the
   * suspects' share for keys whose last task timed out.
   */
  #pump(): void {
    const mayRun = (key: TaskKey) => this.#runningSuspect < this.#suspectShare || !this.#suspects.has(key);
    while (this.#running < this.#threads) {
      const item = this.#queue.next(mayRun);
      if (item === null) return;
      item.call.off('abort', item.onAbort);
      this.#running++;
      if (this.#suspects.has(item.key)) {
        item.suspect = true;
        this.#runningSuspect++;
      }
      void this.#dispatch(item);
    }
  }

  async #dispatch(item: Queued): Promise<void> {
    const { call, op } = item;
    try {
      item.resolve((await this.#piscina.run(item.task, { signal: call })) as TaskResult);
    } catch (err) {
      if (call.aborted) {
        this.#suspects.mark(item.key);
        item.reject(new LookupTimeoutError(op, this.#timeoutMs));
      } else if (this.#closed) item.reject(new PoolClosedError(op));
      else item.reject(new WorkerCrashedError(op, err));
    } finally {
      this.#running--;
      if (item.suspect) this.#runningSuspect--;
      this.#queue.done(item.key);
      this.#pump();
    }
  }

  async ready(): Promise<void> {
    if (this.#closed) throw new PoolClosedError('ready');
    this.#readying ??= this.#warm().catch((err: unknown) => {
      this.#readying = null;
      throw err;
    });
    return this.#readying;
  }

  // piscina starts every thread at once (minThreads) and hands tasks only to threads that have started, so
  // one answer means lookups no longer wait for a start. No deadline: this is the start itself, which a
  // loaded machine may take seconds for and no lookup's timeout may cut short.
  async #warm(): Promise<void> {
    let result: TaskResult;
    try {
      result = (await this.#piscina.run({ op: 'ready' } satisfies Task)) as TaskResult;
    } catch (err) {
      throw this.#closed ? new PoolClosedError('ready') : new WorkerCrashedError('ready', err);
    }
    if (!result.ok) throw toError('ready', result.error);
    this.#warmed = true;
  }

  #task<T>(task: Task, opts: CallOptions | undefined): Promise<T> {
    return this.run(task.op, task, opts?.key);
  }

  // Argument errors reject like every other failure, so callers need only one error path.
  async lookupUser(uid: number, opts?: CallOptions): Promise<UserEntry | null> {
    checkId('uid', uid);
    return this.#task({ op: 'lookupUser', uid }, { key: opts?.key ?? uid });
  }

  async lookupUserByName(name: string, opts?: CallOptions): Promise<UserEntry | null> {
    checkName(name);
    return this.#task({ op: 'lookupUserByName', name }, opts);
  }

  async lookupGroup(gid: number, opts?: CallOptions): Promise<GroupEntry | null> {
    checkId('gid', gid);
    return this.#task({ op: 'lookupGroup', gid }, opts);
  }

  async lookupGroups(gids: readonly number[], opts?: CallOptions): Promise<(GroupEntry | null)[]> {
    if (!Array.isArray(gids)) throw new PeerAuthTypeError('gids must be an array of gids');
    for (const gid of gids) checkId('gid', gid);
    if (gids.length === 0) return [];
    return this.#task({ op: 'lookupGroups', gids: [...gids] }, opts);
  }

  async userGroups(name: string, primaryGid: number, opts?: CallOptions): Promise<number[]> {
    checkName(name);
    checkId('primaryGid', primaryGid);
    return this.#task({ op: 'userGroups', name, gid: primaryGid }, opts);
  }

  async userGroupNames(
    name: string,
    primaryGid: number,
    opts?: CallOptions,
  ): Promise<{ gid: number; name: string | null }[]> {
    checkName(name);
    checkId('primaryGid', primaryGid);
    return this.#task({ op: 'userGroupNames', name, gid: primaryGid }, opts);
  }

  async processInfo(
    peer: { pid: number; pidfd?: number | null },
    opts: { sha256?: boolean; maxBytes?: number } & CallOptions = {},
  ): Promise<ProcessInfo> {
    const pidfd = peer.pidfd ?? null;
    try {
      if (!Number.isInteger(peer.pid) || peer.pid <= 0)
        throw new PeerAuthTypeError(`pid must be a positive integer, got ${peer.pid}`);
      const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
      if (!Number.isInteger(maxBytes) || maxBytes < 0)
        throw new PeerAuthTypeError(`maxBytes must be an integer >= 0, got ${maxBytes}`);
      return await this.#task<ProcessInfo>(
        {
          op: 'processInfo',
          pid: peer.pid,
          pidfd,
          sha256: opts.sha256 === true,
          maxBytes,
        },
        opts,
      );
    } finally {
      // The worker only borrows the pidfd, so this is its single close, whatever happened above.
      // After a timeout the terminated worker can at worst send signal 0 through a reused number.
      if (pidfd !== null) closeQuietly(pidfd);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const item of this.#queue.clear()) {
      item.call.off('abort', item.onAbort);
      item.reject(new PoolClosedError(item.op));
    }
    await this.#piscina.destroy();
    this.#deadlines.clear();
  }
}

function closeQuietly(fd: number): void {
  try {
    const rc = nativeBinding().closeFd(fd);
    if (rc !== 0) process.emitWarning(`closing pidfd ${fd} failed with ${errnoName(rc)}`, 'PeerAuthWarning');
  } catch {
    // No addon means no pidfd could have been opened by this package.
  }
}

/** A pool made here always has ready(). */
export function createCredentialPool(
  options: CredentialPoolOptions = {},
): CredentialPool & { ready(): Promise<void> } {
  return new Pool(options, { file: fileURLToPath(new URL('./worker.js', import.meta.url)) });
}
