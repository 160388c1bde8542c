import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { type CredentialPool, PeerAuthTypeError, unixSocketName } from '@peerauth/core-native';
import {
  createResolver,
  type Identity,
  type IdentityConfig,
  isResolver,
  type Resolver,
} from '@peerauth/identity';
import { Admission, type AdmitHook, type RejectedEvent } from './admission.js';
import type { ProcessOptions } from './attest.js';
import { type CacheOptions, type CachingDirectory, cachingDirectory } from './cache.js';
import { NoActivationSocketError } from './errors.js';
import { IdentityMemo } from './identity-memo.js';
import { Lifecycle } from './lifecycle.js';
import { createJsonLogger, type PeerLogger } from './logger.js';
import { parseServerOptions, type ServerSettings, tlsSettings } from './options.js';
import { type PoolDirectory, poolDirectory } from './pool-directory.js';
import { onShutdownSignals } from './signals.js';
import { checkSocketPathLength } from './socket-directory.js';
import {
  bindSocketFile,
  defaultSocketPath,
  ensureDefaultSocketDirectory,
  releasePrivateDirectory,
  unlinkIfSameSync,
} from './socket-file.js';
import { socketReachWarning } from './socket-reach.js';
import { activationForAnother, activationFromEnv, clearActivationEnv } from './systemd.js';
import { TlsListener, type TlsListenOptions } from './tls-listener.js';

export interface PeerServerOptions {
  /** Socket path. Default: defaultSocketPath(). Ignored under systemd socket activation. */
  path?: string;
  /** Permission bits of the socket file: a number or an octal string ("0660", "660"). Default 0o660. */
  mode?: number | string;
  /**
   * An identity config or a ready Resolver. A ParsedIdentityConfig (from parseIdentityConfig or
   * loadIdentityConfig) is used as it is; a plain object is validated. Default: no people, fallback role for all.
   */
  identity?: IdentityConfig | object | Resolver;
  /** Roles admitted. Default: every role, the fallback role included. */
  allowRoles?: string[];
  /**
   * Most admitted connections open at once (a whole number >= 1); one more is refused with a reason that
   * names the limit. Default: no limit.
   */
  maxConnections?: number;
  /**
   * The application's own admission rule, asked synchronously after allowRoles and maxConnections for every
   * connection whose identity is known: `true` admits, a string refuses with that string as the reason.
   */
  admit?: AdmitHook;
  /**
   * Most connections one uid may hold at once (a whole number >= 1), counted from accept (before its
   * identity is resolved) until the socket closes; one more is refused at once with a reason naming the
   * limit and the uid. Root and the server's own uid are not held to it. Unix peers only. Default: no limit.
   */
  maxConnectionsPerUid?: number;
  /**
   * Of maxConnections, how many slots only root and the user the server runs as may take (as PostgreSQL's
   * superuser_reserved_connections): once maxConnections minus this many are open, other users are refused.
   * Needs maxConnections. Default 0.
   */
  reservedConnections?: number;
  /**
   * A Unix connection that has sent no byte this many milliseconds after accept is closed, with the reason
   * in its audit line. Default: never.
   */
  idleTimeoutMs?: number;
  /**
   * Per-uid user/group cache, plus `identities`: how many resolved identities of repeat client processes
   * (same uid, gid and groups; any pid) are remembered for `ttlMs` (a whole number, default 1024; 0 disables).
   */
  cache?: Omit<CacheOptions, 'now'> & { identities?: number };
  /** pino-compatible logger for audit events and warnings. Default: pino at 'info' on stderr. */
  logger?: PeerLogger;
  /** Worker pool for user/group/process lookups; created (lazily) and owned by the server when not given. */
  pool?: CredentialPool;
  /** Also attest the peer executable (path, optional sha256) through the pool. Default false. */
  process?: boolean | ProcessOptions;
  /** systemd socket activation: 'auto' (default) uses fd 3 when LISTEN_PID/LISTEN_FDS say so; true requires it. */
  listenFds?: boolean | 'auto';
  /**
   * Run each connection's listeners inside its identity context, so currentIdentity() works in them.
   * Default true. False skips AsyncLocalStorage entirely (peerOf() still works), which on Node 20 saves the
   * async-hooks cost it puts on every promise and callback of the process.
   */
  asyncContext?: boolean;
  /** listen() backlog: connections the kernel queues before accept (capped by net.core.somaxconn). Default 511. */
  backlog?: number;
  /**
   * Install SIGINT/SIGTERM/SIGHUP handlers (from listen() on) that log "shutting down", close the server
   * (the socket file and the private directory go at once) and let connections drain (see drainTimeoutMs).
   * `true`: then end the process with the signal's status. `'close'`: only close; the process ends by
   * itself, with status 0, once nothing else keeps it alive (the CLI's way). Further signals during
   * shutdown never interrupt the cleanup. Default false.
   */
  handleSignals?: boolean | 'close';
  /**
   * After close(), how long admitted connections may stay open before the rest are destroyed (with a
   * warning naming how many). Default: no bound; close() waits for every connection to end.
   */
  drainTimeoutMs?: number;
  /**
   * Keep a connection's writing side open after the peer ends its own (net.Server's option): the listener
   * ends it. Default false, where a peer's FIN ends both directions.
   */
  allowHalfOpen?: boolean;
  /**
   * What a refused caller gets before its connection closes: 'close' (default) nothing; 'http' a short
   * `HTTP/1.1 403 Forbidden` whose body names the class of the refusal ("role not allowed", "identity
   * unknown", ...), never the policy. For servers whose callers speak HTTP. The audit line is the same.
   */
  refusal?: 'close' | 'http';
  /**
   * Also listen on TCP with mutual TLS, for callers on other machines: every client must present an
   * X.509-SVID that chains to the bundle of its own trust domain (the identity config's `trustDomains`);
   * the server presents its own SVID. Remote peers get the same 'peer' event, peerOf(), policy and audit,
   * with an identity whose `auth` is 'x509-svid'. The files are read again when they change on disk; with
   * `workloadApi` the SVID and bundles come from the SPIRE agent's stream instead.
   */
  tls?: TlsListenOptions;
}

export type { AdmitHook, RejectedEvent };

export type PeerListener = (socket: net.Socket, identity: Identity) => void;

export interface PeerServer extends EventEmitter {
  /** Listens on the configured path (or the activation fd). Failures are emitted as 'error'. */
  listen(callback?: () => void): this;
  /** Any argument other than a callback throws a TypeError: the path is an option. */
  listen(...args: unknown[]): this;
  /** True from 'listening' until close(). */
  readonly listening: boolean;
  /** The public socket path (or, under socket activation, what the handle reports); null when not listening. */
  address(): AddressInfo | string | null;
  /** The TLS listener's address (its port, when `tls.port` was 0); null without `tls` or when not listening. */
  tlsAddress(): AddressInfo | null;
  ref(): this;
  unref(): this;
  getConnections(callback: (err: Error | null, count: number) => void): this;
  /**
   * The underlying net.Server, for what PeerServer does not wrap. Its own 'listening'/'error' events include
   * the internal bind in the private directory: listen through PeerServer, not through it.
   */
  readonly server: net.Server;
  close(callback?: (err?: Error) => void): this;
  /** The socket path served, or null before listening and under socket activation. */
  readonly path: string | null;
  readonly resolver: Resolver;
  /** The per-uid directory cache (stats(), clear()); clear() also forgets the identities built from it. */
  readonly cache: CachingDirectory;
  /** True from the moment close() starts (a 'stopping' event is emitted then) until the next listen(). */
  readonly stopping: boolean;
  /** Admitted connections still open (what close() drains). */
  readonly openConnections: number;
  on(event: 'peer', listener: PeerListener): this;
  on(event: 'rejected', listener: (event: RejectedEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** Once per close(), when it starts: stop taking new work (HTTP keep-alive, queued jobs). */
  on(event: 'stopping', listener: () => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: must match EventEmitter's listener signature
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'peer', listener: PeerListener): this;
  once(event: 'rejected', listener: (event: RejectedEvent) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'stopping', listener: () => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: must match EventEmitter's listener signature
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

class PeerServerImpl extends EventEmitter {
  readonly server: net.Server;
  readonly resolver: Resolver;
  readonly cache: CachingDirectory;
  private readonly logger: PeerLogger;
  /** The options as checked once by options.ts: what every part reads. */
  private readonly settings: ServerSettings;
  private readonly memo: IdentityMemo;
  /** Decides each connection, and keeps the admitted ones still open: what a drain waits for and cuts. */
  private readonly admission: Admission;
  /** Lookups and process attestation; owns the pool unless one was given. */
  private readonly directory: PoolDirectory;
  /** Every piece of listen/close state. */
  private readonly life = new Lifecycle();
  /** The mutual-TLS listener, when the `tls` option asks for one. */
  private readonly tls: TlsListener | null;
  /** Whether connections use the pool: lookups through the server's own directory, or attestation. */
  private readonly usesPool: boolean;

  constructor(options: PeerServerOptions) {
    super();
    // Every option is checked here, once, before anything touches the filesystem.
    const settings = parseServerOptions(options);
    this.settings = settings;
    // Sockets take the flag at accept, before identity resolution: a FIN that arrives while resolving is kept.
    this.server = net.createServer({ allowHalfOpen: settings.allowHalfOpen });
    this.logger = settings.logger ?? createJsonLogger(settings.logLevel);
    this.directory = poolDirectory(
      settings.pool ?? {
        onError: (err) => this.logger.warn({ err }, 'credential pool worker failed; lookups start a new one'),
      },
    );
    this.memo = new IdentityMemo(
      settings.cache.ttlMs,
      settings.cache.negativeTtlMs,
      settings.memoIdentities,
      Date.now,
      // Read at remember time, after the cache below exists.
      (credentials, username) => this.cache.validUntil(credentials, username),
    );
    // The memo holds identities built from the cache's answers: clearing the cache clears it too.
    const derived = [this.memo];
    const given = settings.identity;
    this.usesPool = !(given !== undefined && isResolver(given)) || settings.process !== null;
    if (given !== undefined && isResolver(given)) {
      this.cache = cachingDirectory(given.directory, settings.cache, derived);
      this.resolver = given.withDirectory(this.cache);
    } else {
      this.cache = cachingDirectory(this.directory, settings.cache, derived);
      this.resolver = createResolver(given ?? { people: [] }, this.cache, { logger: this.logger });
    }
    const admission = new Admission({
      resolver: this.resolver,
      memo: this.memo,
      logger: this.logger,
      allowRoles: settings.allowRoles,
      maxConnections: settings.maxConnections,
      admit: settings.admit,
      limits: settings.limits,
      processOptions: settings.process,
      pool: () => this.directory.pool,
      keyOf: (uid) => this.directory.keyOf(uid),
      asyncContext: settings.asyncContext,
      onPeer: (socket, identity) => this.emit('peer', socket, identity),
      onRejected: (event) => this.emit('rejected', event),
      refusal: settings.refusal,
      ownLogger: settings.logger === undefined,
    });
    this.admission = admission;
    this.server.on('connection', admission.connection);
    this.tls =
      settings.tls === null
        ? null
        : new TlsListener(
            tlsSettings(settings.tls, this.resolver.config),
            this.logger,
            settings.allowHalfOpen,
            {
              secure: (socket) => admission.remote(socket, this.tlsBundles()),
              handshakeFailed: (err, socket) => admission.handshakeFailed(err, socket),
              error: (err) => this.emit('error', err),
            },
          );
    // The bind inside the private directory is an internal step: its 'listening' and 'error' settle that
    // step; the user hears 'listening' only once the socket is at its final path.
    this.server.on('listening', () => {
      this.life.takePendingBind()?.resolve();
    });
    this.server.on('error', (err) => {
      const pending = this.life.takePendingBind();
      if (pending) pending.reject(err);
      else this.emit('error', err);
    });
    // 'close' once both listeners have closed and their connections have ended.
    // Only a close() is announced, once (a failed start's own unbinding is not a 'close').
    this.server.on('close', () => {
      if (!this.life.announceClose()) return;
      if (this.tls) void this.tls.close().then(() => this.emit('close'));
      else this.emit('close');
    });
  }

  private tlsBundles() {
    // Read at each handshake: a bundle reloaded from disk or streamed by the agent applies from the next
    // connection on.
    return (this.tls as TlsListener).material.bundles;
  }

  tlsAddress(): AddressInfo | null {
    return this.tls?.address() ?? null;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  ref(): this {
    this.server.ref();
    this.tls?.tcp.ref();
    return this;
  }

  unref(): this {
    this.server.unref();
    this.tls?.tcp.unref();
    return this;
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    const tlsServer = this.tls?.tcp;
    this.server.getConnections((err, count) => {
      if (err || !tlsServer) callback(err, count);
      else tlsServer.getConnections((tlsErr, tlsCount) => callback(tlsErr, count + tlsCount));
    });
    return this;
  }

  get stopping(): boolean {
    return this.life.stopping;
  }

  /** Admitted connections still open. */
  get openConnections(): number {
    return this.admission.openCount;
  }

  get path(): string | null {
    return this.life.bound?.path ?? null;
  }

  private listenInternal(target: string | { fd: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.life.pendingBind = { resolve, reject };
      const base = typeof target === 'string' ? { path: target } : target;
      const { backlog } = this.settings;
      this.server.listen(backlog === undefined ? base : { ...base, backlog });
    });
  }

  listen(...args: unknown[]): this {
    const callback = args[0];
    if (args.length > 1 || (args.length === 1 && typeof callback !== 'function')) {
      throw new PeerAuthTypeError(
        'PeerServer.listen() takes only an optional callback; set the socket path in the options',
      );
    }
    if (typeof callback === 'function') this.once('listening', callback as () => void);
    this.life.startRequested();
    // Before anything is created, so that a signal during start-up never finds the default action.
    if (this.settings.handleSignals !== false && this.life.signals === null)
      this.life.signals = onShutdownSignals((signal) => this.closeForSignal(signal));
    const generation = this.life.generation;
    this.life.startInFlight = true;
    this.life.starting = this.start().then(
      () => {
        this.life.startInFlight = false;
        if (this.life.stopping && this.life.generation === generation) {
          // close() was called while the socket was being set up: undo it instead of announcing it.
          this.undoStart();
          return;
        }
        this.life.started();
        this.emit('listening');
      },
      (err: Error) => {
        this.life.startInFlight = false;
        if (this.life.stopping && this.life.generation === generation) {
          // close() won: the start's failure is its own undoing, not an error of the server.
          this.logger.debug?.({ err }, 'start interrupted by close()');
          this.undoStart();
          return;
        }
        this.life.startFailed();
        this.life.releaseSignals();
        this.emit('error', err);
      },
    );
    return this;
  }

  /**
   * handleSignals: close (files go at once), wait for a start under way and for the drain, then exit
   * (true) or leave the process to end by itself ('close').
   */
  private closeForSignal(signal: NodeJS.Signals): void {
    const signals = this.life.signals;
    const exit = this.settings.handleSignals === true;
    let closed = false;
    let settled = false;
    const exitWhenDone = () => {
      if (!(closed && settled)) return;
      if (exit) signals?.exit(signal);
      else signals?.remove();
    };
    this.logger.info(
      { reason: signal, open: this.admission.openCount, drainTimeoutMs: this.settings.drainTimeoutMs },
      'shutting down',
    );
    this.once('close', () => {
      closed = true;
      exitWhenDone();
    });
    this.close();
    void Promise.resolve(this.life.starting).then(() => {
      // A start under way has undone itself by now (it saw `stopping`), so nothing of ours is left.
      settled = true;
      signals?.cleanedUp();
      exitWhenDone();
    });
  }

  /**
   * The TLS listener first: its files are the likeliest to be wrong, and it leaves nothing on disk. The
   * pool starts meanwhile, and the Unix socket is bound only once a worker has answered.
   */
  private async start(): Promise<void> {
    const warming = this.warmPool();
    try {
      if (this.tls) await this.tls.listen(this.settings.backlog);
    } finally {
      await warming;
    }
    // close() while the pool was starting: nothing is bound yet, and nothing should be.
    if (this.life.stopping) return;
    try {
      await this.startUnix();
    } catch (err) {
      // A remote client admitted in the meantime must not hold up the report of the failed start.
      const closing = this.tls?.close();
      this.admission.destroyOpen();
      await closing;
      throw err;
    }
  }

  /**
   * A warm start: the pool's workers are started and one has answered before the server says it is
   * listening, so the first connections' lookups never wait for a worker's start (which a loaded machine
   * can take longer than the lookup deadline for). Only when the pool will be used: by the server's own
   * resolver, or for process attestation. A pool that cannot start is logged; lookups then start it
   * themselves, as before.
   */
  private async warmPool(): Promise<void> {
    if (!this.usesPool) return;
    try {
      await this.directory.pool.ready?.();
    } catch (err) {
      if (!this.life.stopping)
        this.logger.warn({ err }, 'credential pool did not start; lookups will start it themselves');
    }
  }

  private async startUnix(): Promise<void> {
    const { listenFds, path: requestedPath, mode, modeGiven } = this.settings;
    const activation = listenFds === false ? null : activationFromEnv();
    if (listenFds === true && !activation) {
      throw new NoActivationSocketError('LISTEN_PID does not name this process or LISTEN_FDS is not >= 1');
    }
    const another = activation ? null : activationForAnother();
    if (another)
      this.logger.warn(
        { listenPid: another.listenPid, pid: another.pid },
        `LISTEN_PID is ${another.listenPid} but this process is ${another.pid}: the activation socket (fd 3) is meant for another process and is not used. Start node itself in ExecStart= (not through npx or a shell that does not exec)`,
      );
    if (activation) {
      // The variables are for this process only; children must not inherit a claim on fd 3.
      clearActivationEnv();
      await this.listenInternal({ fd: activation.fd });
      this.life.activated = true;
      this.life.activatedName = activatedSocketName(activation.fd);
    } else {
      const socketPath = path.resolve(requestedPath ?? defaultSocketPath());
      checkSocketPathLength(socketPath);
      if (requestedPath === undefined) await ensureDefaultSocketDirectory(path.dirname(socketPath));
      // Only for a mode asked for: the default 0660 in the default private directory is private on purpose.
      const unreachable = modeGiven ? await socketReachWarning(socketPath, mode) : null;
      if (unreachable) this.logger.warn({ path: socketPath }, unreachable);
      this.life.bound = await bindSocketFile(
        socketPath,
        mode,
        (tmpPath) => this.listenInternal(tmpPath),
        () => {
          if (this.listening) this.server.close();
        },
      );
    }
  }

  /**
   * The public socket path. net.Server would answer with the path it bound, inside the private directory,
   * which is gone once the socket is linked into place (and it keeps answering so after close()). Only a
   * socket-activated listener reports what its handle says.
   */
  address(): AddressInfo | string | null {
    if (this.life.bound) return this.life.bound.path;
    if (!(this.life.activated && this.listening)) return null;
    // A TCP socket's address comes from Node; a Unix socket handed over as an fd has no name there.
    const handle = this.server.address();
    return handle !== null && typeof handle === 'object' ? handle : (this.life.activatedName ?? handle);
  }

  /**
   * A start that close() interrupted: whatever it set up goes, and the inner listener's close (also when
   * it never listened) is the one 'close' of this close().
   */
  private undoStart(): void {
    void this.tls?.close();
    this.releaseSocketFile();
    this.server.close();
  }

  /**
   * drainTimeoutMs passed with connections still open: they are destroyed, and the log says how many.
   * `before` are the connections open when close() was called: after a new listen() only those are cut.
   */
  private cutDrain(generation: number, before: ReadonlySet<net.Socket>): void {
    const sameLife = this.life.generation === generation;
    const open = sameLife ? this.admission.openCount : this.admission.countOpen(before);
    if (open === 0) return;
    this.logger.warn({ open }, 'drain timeout: closing the remaining connections');
    if (sameLife) this.admission.destroyOpen();
    else this.admission.destroyOpen(before);
  }

  /** Removes our socket file (only if it is still ours) and the private bind directory. */
  private releaseSocketFile(): void {
    const bound = this.life.takeBound();
    if (!bound) return;
    unlinkIfSameSync(bound.path, bound.file);
    // libuv unlinks the bind path inside the private directory when the handle closes (synchronously, in
    // close()), so the directory is empty by now. That unlink goes through our descriptor of the directory
    // (Linux, where the directory itself is already gone) or the directory was kept until here, so it
    // could never hit anything but our own directory.
    try {
      if (!releasePrivateDirectory(bound))
        this.logger.error(
          { dir: bound.privateDir },
          'the private bind directory was replaced by something else; left alone',
        );
    } catch (err) {
      this.logger.warn({ dir: bound.privateDir, err }, 'could not remove the private bind directory');
    }
  }

  close(callback?: (err?: Error) => void): this {
    const wasStarting = this.life.state === 'starting';
    if (this.life.stopRequested()) {
      const generation = this.life.generation;
      const before = this.admission.openSockets();
      const { drainTimeoutMs } = this.settings;
      const drain =
        drainTimeoutMs === null ? null : setTimeout(() => this.cutDrain(generation, before), drainTimeoutMs);
      drain?.unref();
      this.once('close', () => {
        if (drain) clearTimeout(drain);
        // A listen() since this close() began a new life, which is not this close's to end.
        if (this.life.generation !== generation) return;
        // Not earlier: until the server is closed a signal must not find the default action.
        this.life.closed();
        this.life.releaseSignals();
        void this.directory.close();
      });
      this.emit('stopping');
    }
    // A start under way is left to finish and then undone (undoStart): closing the inner listener in the
    // middle of the bind would turn the bind's next step into a raw error.
    if (this.life.state === 'stopping' && (wasStarting || this.life.startInFlight)) {
      if (callback) this.once('close', () => callback());
      return this;
    }
    const tlsClosed = this.tls?.close();
    this.server.close(
      callback && tlsClosed ? (err?: Error) => void tlsClosed.then(() => callback(err)) : callback,
    );
    this.releaseSocketFile();
    return this;
  }
}

/** The activation socket's path, or null (TCP, unnamed, or no addon to ask). */
function activatedSocketName(fd: number): string | null {
  try {
    return unixSocketName(fd);
  } catch {
    return null;
  }
}

/**
 * A Unix socket server whose every connection arrives with a kernel-verified identity.
 * `onPeer` is a 'peer' listener, like net.createServer's connection listener.
 */
export function createPeerServer(options: PeerServerOptions = {}, onPeer?: PeerListener): PeerServer {
  const server = new PeerServerImpl(options);
  if (onPeer) server.on('peer', onPeer);
  return server as unknown as PeerServer;
}

export { defaultSocketPath };
