// X509Source: the latest X.509-SVID and every trust domain's bundle, kept current by the two streaming RPCs of
// the Workload API (FetchX509SVID, FetchX509Bundles) over one gRPC channel. When a stream breaks (the agent
// restarts, the socket is not there yet) the channel is dropped and made again after a growing, jittered
// wait, and the last good material stays in service meanwhile, as go-spiffe's X509Source does.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { type Endpoint, parseEndpoint } from './endpoint.js';
import { WorkloadApiError } from './errors.js';
import {
  parseBundlesResponse,
  parseSvidResponse,
  type RawBundlesResponse,
  type RawSvidResponse,
  type X509Bundle,
  type X509Context,
  type X509Svid,
} from './material.js';
import { SECURITY_HEADER, workloadClientConstructor } from './proto.js';

export interface X509SourceOptions {
  /**
   * The agent's socket: `unix:///run/spire/agent/public/api.sock`, `tcp://IP:PORT`, or an absolute path.
   * Default: the SPIFFE_ENDPOINT_SOCKET environment variable.
   */
  endpoint?: string;
  /** Use the SVID with this hint rather than the first one the agent sends. */
  hint?: string;
  /**
   * How long `ready` waits for the first SVID before it rejects (PEERAUTH_WORKLOAD_TIMEOUT, naming the last
   * problem) and the source closes. Default 30000; Infinity waits for as long as it takes.
   */
  readyTimeoutMs?: number;
  /** The wait before reconnecting: from initialMs (default 200), doubling up to maxMs (default 10000). */
  backoff?: { initialMs?: number; maxMs?: number };
}

type Stream = grpc.ClientReadableStream<unknown>;

const { status: Status } = grpc;

function positive(name: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value <= 0 ||
    (!allowInfinity && !Number.isFinite(value))
  )
    throw new WorkloadApiError(
      'PEERAUTH_WORKLOAD_INVALID_OPTION',
      `invalid ${name} ${JSON.stringify(value)}: expected a positive number of milliseconds`,
    );
  return value;
}

/** A gRPC status as one of this package's errors; `which` names the call for the message. */
export function errorFromStatus(s: grpc.StatusObject, endpoint: string, which: string): WorkloadApiError {
  const name = Status[s.code] ?? String(s.code);
  // grpc-js ends some details with an empty "Resolution note: ", which says nothing.
  const said = `${which} at ${endpoint}: ${name}: ${s.details.replace(/\.? Resolution note: $/, '')}`;
  const options = { grpcCode: s.code };
  if (s.code === Status.PERMISSION_DENIED) {
    // SPIRE's words when no registration entry matches this process (yet: entries reach agents in seconds).
    if (/no identity issued/i.test(s.details))
      return new WorkloadApiError(
        'PEERAUTH_WORKLOAD_NO_IDENTITY',
        `no identity for this process yet (${said})`,
        options,
      );
    return new WorkloadApiError(
      'PEERAUTH_WORKLOAD_PERMISSION_DENIED',
      `the agent refused this process (${said})`,
      options,
    );
  }
  if (s.code === Status.UNAVAILABLE) {
    // grpc-js reports a socket it may not open as UNAVAILABLE with the errno in the details.
    if (/\bE(ACCES|PERM)\b/.test(s.details))
      return new WorkloadApiError(
        'PEERAUTH_WORKLOAD_PERMISSION_DENIED',
        `this process may not open the agent's socket (${said})`,
        options,
      );
    return new WorkloadApiError(
      'PEERAUTH_WORKLOAD_UNAVAILABLE',
      `the agent is not reachable (${said})`,
      options,
    );
  }
  // Calls this source cancels itself are never reported: a cancellation seen here is the agent's (an agent
  // shutting down cancels its streams), and an OK status ends a stream that should never end.
  if (s.code === Status.OK || s.code === Status.CANCELLED)
    return new WorkloadApiError(
      'PEERAUTH_WORKLOAD_UNAVAILABLE',
      `the agent ended the stream (${said})`,
      options,
    );
  return new WorkloadApiError('PEERAUTH_WORKLOAD_REFUSED', `the agent refused the call (${said})`, options);
}

export interface X509Source extends EventEmitter {
  /** The endpoint as given (or read from SPIFFE_ENDPOINT_SOCKET). */
  readonly endpoint: string;
  /** Resolves with the first complete context; rejects (and the source closes) on timeout or close(). */
  readonly ready: Promise<X509Context>;
  /** The SVID in use. Throws PEERAUTH_WORKLOAD_NO_IDENTITY before the first one, PEERAUTH_WORKLOAD_CLOSED after close(). */
  getSvid(): X509Svid;
  /** Every SVID the agent sent (several when the workload has several registration entries). */
  getSvids(): readonly X509Svid[];
  /** The bundle of one trust domain (own or federated), or undefined when the agent gave none for it. */
  getBundle(trustDomain: string): X509Bundle | undefined;
  /** Every trust domain's bundle, each under its own name. */
  readonly bundles: ReadonlyMap<string, X509Bundle>;
  /** The whole current context, or null before the first SVID. */
  readonly context: X509Context | null;
  /** The latest problem (cleared by the next good message), for health checks. */
  readonly lastError: WorkloadApiError | null;
  readonly closed: boolean;
  /** Cancel the streams and close the channel; the material read so far stays readable. */
  close(): void;
  /** A new SVID or bundle set is in service (the first one too). */
  on(event: 'update', listener: (context: X509Context) => void): this;
  /** A problem the source recovers from by itself (it retries); emitted only while someone listens. */
  on(event: 'error', listener: (err: WorkloadApiError) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: must match EventEmitter's listener signature
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

class X509SourceImpl extends EventEmitter implements X509Source {
  readonly endpoint: string;
  readonly ready: Promise<X509Context>;
  private readonly target: Endpoint;
  private readonly hint: string | undefined;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private settleReady!: { resolve: (c: X509Context) => void; reject: (e: Error) => void };
  private readyTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private waitMs: number;
  private client: grpc.Client | null = null;
  private calls: Stream[] = [];
  /** Bumped at every (re)connection: events of an abandoned call are ignored. */
  private generation = 0;
  private current: X509Context | null = null;
  private svids: X509Svid[] = [];
  private svid: X509Svid | null = null;
  /** The bundles of the latest X509SVIDResponse (each SVID's own domain and the federated ones). */
  private svidBundles = new Map<string, X509Bundle>();
  /** The latest X509BundlesResponse: once one came, it is the bundle set (it lists every domain). */
  private streamBundles: Map<string, X509Bundle> | null = null;
  private bundlesStream = true;
  private problem: WorkloadApiError | null = null;
  private isClosed = false;

  constructor(options: X509SourceOptions) {
    super();
    this.target = parseEndpoint(options.endpoint);
    this.endpoint = this.target.given;
    this.hint = options.hint;
    this.initialMs = positive('backoff.initialMs', options.backoff?.initialMs, 200);
    this.maxMs = Math.max(this.initialMs, positive('backoff.maxMs', options.backoff?.maxMs, 10_000));
    this.waitMs = this.initialMs;
    const timeout = positive('readyTimeoutMs', options.readyTimeoutMs, 30_000, true);
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // A caller that never awaits ready must not get an unhandled rejection when it fails.
    this.ready.catch(() => {});
    if (Number.isFinite(timeout)) {
      this.readyTimer = setTimeout(() => {
        this.readyTimer = null;
        const last = this.problem ? ` (last problem: ${this.problem.message})` : '';
        this.settleReady.reject(
          new WorkloadApiError(
            'PEERAUTH_WORKLOAD_TIMEOUT',
            `no X.509-SVID from the Workload API at ${this.endpoint} within ${timeout} ms${last}`,
            { cause: this.problem ?? undefined },
          ),
        );
        this.close();
      }, timeout);
    }
    this.connect();
  }

  get bundles(): ReadonlyMap<string, X509Bundle> {
    return this.current?.bundles ?? new Map();
  }

  get context(): X509Context | null {
    return this.current;
  }

  get lastError(): WorkloadApiError | null {
    return this.problem;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  getSvid(): X509Svid {
    if (this.isClosed && !this.current)
      throw new WorkloadApiError('PEERAUTH_WORKLOAD_CLOSED', `the X509Source for ${this.endpoint} is closed`);
    if (!this.current)
      throw new WorkloadApiError(
        'PEERAUTH_WORKLOAD_NO_IDENTITY',
        `no X.509-SVID from ${this.endpoint} yet: await source.ready first` +
          (this.problem ? ` (last problem: ${this.problem.message})` : ''),
      );
    return this.current.svid;
  }

  getSvids(): readonly X509Svid[] {
    return this.current?.svids ?? [];
  }

  getBundle(trustDomain: string): X509Bundle | undefined {
    return this.current?.bundles.get(trustDomain);
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.disconnect();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.retryTimer = null;
    this.readyTimer = null;
    this.settleReady.reject(
      new WorkloadApiError('PEERAUTH_WORKLOAD_CLOSED', `the X509Source for ${this.endpoint} was closed`),
    );
  }

  private connect(): void {
    const generation = ++this.generation;
    const Client = workloadClientConstructor();
    const client = new Client(this.target.target, grpc.credentials.createInsecure(), {
      // The channel is made again at each reconnection; its own backoff must not outwait ours.
      'grpc.initial_reconnect_backoff_ms': this.initialMs,
      'grpc.max_reconnect_backoff_ms': this.maxMs,
    });
    this.client = client;
    const metadata = new grpc.Metadata();
    metadata.set(SECURITY_HEADER, 'true');
    const open = (method: string, onData: (m: unknown) => void, onEnd: (s: grpc.StatusObject) => void) => {
      const call = (client as unknown as Record<string, (req: object, md: grpc.Metadata) => Stream>)[method]!(
        {},
        metadata,
      );
      // 'error' repeats what 'status' says; it needs a listener so that it never throws.
      call.on('error', () => {});
      call.on('data', (m: unknown) => {
        if (generation === this.generation) onData(m);
      });
      call.on('status', (s: grpc.StatusObject) => {
        if (generation === this.generation) onEnd(s);
      });
      this.calls.push(call);
    };
    open(
      'FetchX509SVID',
      (m) => this.svidMessage(m as RawSvidResponse),
      (s) => this.broken(errorFromStatus(s, this.endpoint, 'FetchX509SVID')),
    );
    if (this.bundlesStream)
      open(
        'FetchX509Bundles',
        (m) => this.bundlesMessage(m as RawBundlesResponse),
        (s) => {
          // An agent without FetchX509Bundles still sends every bundle with the SVIDs.
          if (s.code === Status.UNIMPLEMENTED) {
            this.bundlesStream = false;
            this.streamBundles = null;
            this.publish();
            return;
          }
          this.broken(errorFromStatus(s, this.endpoint, 'FetchX509Bundles'));
        },
      );
  }

  private disconnect(): void {
    this.generation++;
    for (const call of this.calls) call.cancel();
    this.calls = [];
    this.client?.close();
    this.client = null;
  }

  /** A stream ended: drop the channel and connect again after the current wait. */
  private broken(err: WorkloadApiError): void {
    if (this.isClosed) return;
    this.report(err);
    this.disconnect();
    const jittered = this.waitMs * (0.8 + Math.random() * 0.4);
    this.waitMs = Math.min(this.maxMs, this.waitMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.isClosed) this.connect();
    }, jittered);
  }

  private report(err: WorkloadApiError): void {
    this.problem = err;
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private svidMessage(raw: RawSvidResponse): void {
    let parsed: ReturnType<typeof parseSvidResponse>;
    let chosen: X509Svid;
    try {
      parsed = parseSvidResponse(raw);
      chosen = this.pick(parsed.svids);
    } catch (err) {
      // Keep what is in service; the agent sends a new message when anything changes.
      this.report(err as WorkloadApiError);
      return;
    }
    this.svids = parsed.svids;
    this.svid = chosen;
    this.svidBundles = parsed.bundles;
    this.good();
  }

  private bundlesMessage(raw: RawBundlesResponse): void {
    try {
      this.streamBundles = parseBundlesResponse(raw);
    } catch (err) {
      this.report(err as WorkloadApiError);
      return;
    }
    this.good();
  }

  private pick(svids: X509Svid[]): X509Svid {
    if (this.hint === undefined) return svids[0]!;
    const found = svids.find((s) => s.hint === this.hint);
    if (!found)
      throw new WorkloadApiError(
        'PEERAUTH_WORKLOAD_NO_IDENTITY',
        `the Workload API sent no X.509-SVID with hint ${JSON.stringify(this.hint)} (hints: ${svids.map((s) => JSON.stringify(s.hint)).join(', ')})`,
      );
    return found;
  }

  private good(): void {
    this.waitMs = this.initialMs;
    this.problem = null;
    this.publish();
  }

  private publish(): void {
    if (!this.svid || this.isClosed) return;
    const context: X509Context = {
      svid: this.svid,
      svids: this.svids,
      bundles: this.streamBundles ?? this.svidBundles,
    };
    this.current = context;
    this.emit('update', context);
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.readyTimer = null;
    this.settleReady.resolve(context);
  }
}

/** Connect to the Workload API and follow the workload's X.509-SVID and bundles; see X509Source. */
export function createX509Source(options: X509SourceOptions = {}): X509Source {
  return new X509SourceImpl(options);
}
