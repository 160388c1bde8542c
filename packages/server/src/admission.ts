// Admission: the one place that decides a connection. Credentials (the kernel's, read at accept; or a TLS
// client's X.509-SVID, verified against its trust domain's bundle) → identity (memo or resolver, optionally
// with process attestation) → policy (allowRoles, maxConnections, the admit hook) → accepted or rejected. Every connection gets exactly one decision: the 'peer' callback
// with its audit event, or the 'rejected' callback with its audit event. A peer that leaves before its
// identity is known gets neither: its audit line says it closed before a decision. Nothing refuses a
// connection after 'peer': a command's own rules (exec's environment and --max-children, the proxy's
// identity headers) are its admit hook, asked here.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import {
  type CredentialPool,
  formatError,
  getPeerCredentials,
  type PeerCredentials,
} from '@peerauth/core-native';
import {
  type Identity,
  type Resolver,
  runWithIdentity,
  SvidVerificationError,
  type TrustBundleSet,
  type UnixIdentity,
} from '@peerauth/identity';
import { attest, type ProcessOptions, takePidfd } from './attest.js';
import { type AuditPeer, auditAccepted, auditClosed, auditRejected, unixPeer } from './audit.js';
import { connectionSubscribed } from './connection-channel.js';
import {
  type ConnectionLimits,
  closeIfSilent,
  isPrivilegedUid,
  type UidCountStore,
  uidCountStore,
} from './connection-limits.js';
import type { IdentityMemo } from './identity-memo.js';
import { writeBeforeExit } from './log-flush.js';
import { levelEnabled, type PeerLogger } from './logger.js';
import { verifyPeerSvid } from './peer-svid.js';
import { setPeer } from './peers.js';
import { type RefusalClass, refuseWithHttp } from './refusal.js';

export interface RejectedEvent {
  /** How the peer came: a Unix socket ('unix') or the TLS listener ('x509-svid'). */
  auth: 'unix' | 'x509-svid';
  /** A Unix peer's kernel credentials (null when unreadable, and for every remote peer). */
  credentials: PeerCredentials | null;
  /** A remote peer's address and port; null for a Unix peer. */
  remoteAddress: string | null;
  identity: Identity | null;
  reason: string;
}

/**
 * An application's own admission rule, asked after allowRoles and maxConnections, synchronously, for every
 * connection whose identity is known. Return `true` to admit; any string refuses the connection with that
 * string as the audit reason. Anything else (and a throw) refuses too: admission fails closed. `credentials`
 * are a Unix peer's kernel credentials, and null for a remote (x509-svid) peer. `socket` is the connection
 * itself: what the rule prepares for an admitted connection (an environment, headers) can be kept under it
 * for the 'peer' listener, so that anything that would refuse the connection is decided here, once.
 */
export type AdmitHook = (
  identity: Identity,
  credentials: PeerCredentials | null,
  socket: net.Socket,
) => true | string;

export interface AdmissionPolicy {
  /** Roles admitted; null admits every role. */
  allowRoles: ReadonlySet<string> | null;
  /** Most admitted connections open at once; Infinity for no limit. */
  maxConnections: number;
  admit: AdmitHook | null;
  /** Per-uid limit, reserved slots and idle timeout. */
  limits: ConnectionLimits;
}

export interface AdmissionOptions extends AdmissionPolicy {
  resolver: Resolver;
  memo: IdentityMemo;
  logger: PeerLogger;
  /** Also attest the peer executable; the pool is asked for only then. */
  processOptions: ProcessOptions | null;
  pool: () => CredentialPool;
  /** The pool key of a connecting uid (PoolDirectory.keyOf). */
  keyOf?: (uid: number) => string | number;
  /** Run the 'peer' listeners and the socket's later events inside the identity context. */
  asyncContext: boolean;
  onPeer: (socket: net.Socket, identity: Identity) => void;
  onRejected: (event: RejectedEvent) => void;
  /** 'http': a refused caller gets a short HTTP 403 before the close (refusal.ts). */
  refusal: 'close' | 'http';
  /** The logger is the server's own (no application code runs in it); an application's gets the context. */
  ownLogger?: boolean;
}

// Errors on accepted sockets (a client resetting the connection) must not crash a daemon; the 'closed'
// audit event records that the connection ended with an error.
function ignoreSocketError(): void {}

type Emit = (this: net.Socket, event: string | symbol, ...args: unknown[]) => boolean;

// The socket's own emit and its identity, under module-private symbols: one shared wrapper serves every
// socket (no closure per connection).
const kEmit = Symbol('peerauth.emit');
const kContext = Symbol('peerauth.context');
type Bound = net.Socket & { [kEmit]: Emit; [kContext]: Identity; _events?: Record<string | symbol, unknown> };

// net's own 'end' listener (it ends the writable side unless allowHalfOpen), added by every net.Socket's
// constructor: it runs no application code, so an 'end' heard by it alone needs no identity context. net does
// not export it, and a handle-less Socket is the one public way to reach it: one object at load, no
// descriptor, no listener left anywhere. Taking it from the first accepted socket instead would trust that
// nothing of the application's had added an 'end' listener first.
const netEndListener: unknown = (() => {
  const [listener] = new net.Socket().listeners('end');
  return listener;
})();

/**
 * Whether this emit would run nothing but the server's and Node's own code: no listener of the application's,
 * and nothing published that a diagnostics_channel subscriber or an application's logger could hear. Read
 * from the emitter's own listener table (what emit itself reads), so that no array is built per event.
 */
function onlyInternal(socket: Bound, event: string | symbol): boolean {
  const listeners = socket._events?.[event];
  if (listeners === undefined) return true;
  if (event === 'end') return listeners === netEndListener;
  if (event === 'close') return listeners === onAdmittedClose && closesQuietly(socket);
  return false;
}

/**
 * Makes currentIdentity() work in every listener of this socket, whenever it runs. AsyncLocalStorage alone
 * does not do it: the socket's later events come from its libuv handle, created at accept outside any
 * identity context. Events only the server's and Node's own listeners hear skip the context switch.
 */
function emitWithIdentity(this: Bound, ...args: [event: string | symbol, ...rest: unknown[]]): boolean {
  const emit = this[kEmit];
  if (onlyInternal(this, args[0])) return Reflect.apply(emit, this, args);
  return runWithIdentity(this[kContext], Reflect.apply, emit, this, args) as boolean;
}

function bindEmitToIdentity(socket: net.Socket, identity: Identity): void {
  const bound = socket as Bound;
  bound[kEmit] = socket.emit as Emit;
  bound[kContext] = identity;
  socket.emit = emitWithIdentity as net.Socket['emit'];
}

/** An admitted connection: counted for maxConnections and openConnections, and audited when it closes. */
class OpenConnection {
  constructor(
    readonly admission: Admission,
    readonly socket: net.Socket,
    /** A remote peer as its audit lines name it; null for a Unix peer, named from its credentials when read. */
    readonly remote: AuditPeer | null,
    readonly credentials: PeerCredentials | null,
    readonly identity: Identity,
    readonly start: number,
    /** Time to the decision; null when nobody was to hear of it (no info log, no channel subscriber). */
    readonly admissionMs: number | null,
    /** Whether its closing line is still to be written (false at info off, or once written at exit). */
    public logged: boolean,
  ) {}

  // Built only for a closing line or a channel message: a connection nobody hears of allocates none.
  get peer(): AuditPeer {
    return this.remote ?? unixPeer(this.credentials);
  }
}

// The open connection of an admitted socket, under a module-private symbol, so that one shared 'close'
// listener serves every socket (no closure per connection).
const kOpen = Symbol('peerauth.openConnection');
type Tracked = net.Socket & { [kOpen]?: OpenConnection };

/**
 * Whether an admitted socket's closing runs no application code: no channel subscriber, and its closing
 * line (if any) goes to the server's own logger. Then onAdmittedClose needs no identity context.
 */
function closesQuietly(socket: Tracked): boolean {
  const connection = socket[kOpen];
  if (connection === undefined || connectionSubscribed()) return false;
  return !connection.logged || connection.admission.ownLogger;
}

function onAdmittedClose(this: Tracked, hadError: boolean): void {
  const connection = this[kOpen];
  if (connection !== undefined)
    connection.admission.closed(connection, hadError ? 'transmission error' : null);
}

const ENDED_OPEN = 'the server process ended with the connection open';

// Why the server itself closed a socket still being resolved: its audit line says so rather than that it left.
const kClosedBecause = Symbol('peerauth.closedBecause');
type Closed = net.Socket & { [kClosedBecause]?: string };

export class Admission {
  private readonly options: AdmissionOptions;
  /** Admitted connections still open. */
  private readonly open = new Set<OpenConnection>();
  /** Takes back the exit writer; set while audited connections are open. */
  private unhookExit: (() => void) | null = null;
  /** Connections per uid, when maxConnectionsPerUid is set. */
  private readonly perUid: UidCountStore | null;

  /** Whether audit lines go to the server's own logger (no application code hears them). */
  readonly ownLogger: boolean;

  constructor(options: AdmissionOptions) {
    this.options = options;
    this.ownLogger = options.ownLogger === true;
    const { maxConnectionsPerUid } = options.limits;
    this.perUid = Number.isFinite(maxConnectionsPerUid) ? uidCountStore(maxConnectionsPerUid) : null;
  }

  /** The idle timeout's close: an admitted connection's closing line, or the decision's, names the reason. */
  private readonly closeSilent = (socket: net.Socket, reason: string): void => {
    const connection = (socket as Tracked)[kOpen];
    if (connection !== undefined) this.closed(connection, reason);
    else (socket as Closed)[kClosedBecause] = reason;
    socket.destroy();
  };

  /** How many admitted connections are open. */
  get openCount(): number {
    return this.open.size;
  }

  /** Destroys the admitted connections still open, or those of them in `only` (each closes with its audit line). */
  destroyOpen(only?: ReadonlySet<net.Socket>): void {
    for (const { socket } of [...this.open]) if (!only || only.has(socket)) socket.destroy();
  }

  /** The admitted connections open now. */
  openSockets(): Set<net.Socket> {
    return new Set([...this.open].map((c) => c.socket));
  }

  /** How many of `sockets` are still open. */
  countOpen(sockets: ReadonlySet<net.Socket>): number {
    let n = 0;
    for (const { socket } of this.open) if (sockets.has(socket)) n++;
    return n;
  }

  /** A connection that closes gets its audit line here; one still open when the process ends, at exit. */
  closed(connection: OpenConnection, reason: string | null): void {
    if (!this.open.delete(connection)) return;
    if (this.open.size === 0 && this.unhookExit !== null) {
      this.unhookExit();
      this.unhookExit = null;
    }
    this.auditClosed(connection, reason);
  }

  private auditClosed(connection: OpenConnection, reason: string | null): void {
    // Nobody to hear of it: not even the clock is read.
    if (!connection.logged && !connectionSubscribed()) return;
    auditClosed(
      this.options.logger,
      connection.socket,
      connection.peer,
      connection.identity,
      reason,
      performance.now() - connection.start,
      connection.admissionMs,
      connection.logged,
    );
  }

  // The connections stay counted (the process may yet drain them); each gets its one closing line here.
  private readonly writeOpenAtExit = (): void => {
    this.unhookExit = null;
    for (const connection of this.open) {
      if (!connection.logged) continue;
      auditClosed(
        this.options.logger,
        connection.socket,
        connection.peer,
        connection.identity,
        ENDED_OPEN,
        performance.now() - connection.start,
        connection.admissionMs,
        true,
        false,
      );
      connection.logged = false;
    }
  };

  /** The net.Server 'connection' listener. */
  readonly connection = (socket: net.Socket): void => {
    const start = performance.now();
    let credentials: PeerCredentials;
    try {
      // Synchronously, in the accept callback: the kernel's answer for this connection, nothing inferred.
      credentials = getPeerCredentials(socket);
    } catch (err) {
      this.reject(
        socket,
        unixPeer(null),
        null,
        `peer credentials unavailable (${formatError(err)})`,
        start,
        'peer credentials unavailable',
      );
      return;
    }
    if (this.perUid !== null) {
      const refused = this.perUid.take(socket, credentials.uid);
      if (refused instanceof Promise) {
        // Counted by another process (--workers): the rest of the decision waits for its answer.
        socket.on('error', ignoreSocketError);
        refused.then(
          (reason) => this.counted(socket, credentials, reason, start),
          (err) =>
            this.counted(socket, credentials, `per-uid count unavailable (${formatError(err)})`, start),
        );
        return;
      }
      if (refused !== null) {
        // Destroyed at once, never answered: a 403 would keep the descriptor this limit exists to bound.
        this.reject(socket, unixPeer(credentials), null, refused, start, null);
        return;
      }
    }
    this.admitCounted(socket, credentials, start);
  };

  /** The answer of a per-uid store in another process: a refusal as at accept, else the rest of the decision. */
  private counted(
    socket: net.Socket,
    credentials: PeerCredentials,
    refused: string | null,
    start: number,
  ): void {
    if (refused !== null) {
      this.reject(socket, unixPeer(credentials), null, refused, start, null);
      return;
    }
    this.admitCounted(socket, credentials, start);
  }

  /** A Unix connection within its uid's limit: idle timeout, then attestation or identity, then policy. */
  private admitCounted(socket: net.Socket, credentials: PeerCredentials, start: number): void {
    socket.on('error', ignoreSocketError);
    const { idleTimeoutMs } = this.options.limits;
    if (idleTimeoutMs !== null)
      closeIfSilent(socket, idleTimeoutMs, (reason) => this.closeSilent(socket, reason));
    const { processOptions } = this.options;
    if (processOptions) {
      this.attest(socket, credentials, takePidfd(socket), processOptions, start);
      return;
    }
    const known = this.options.memo.get(credentials);
    if (known) this.decide(socket, credentials, known, start);
    else this.resolve(socket, credentials, start);
  }

  /**
   * A finished TLS handshake: the chain the client sent is verified as an X.509-SVID against the bundle of
   * its own trust domain, then resolved through the same config; a refusal names the SVID rule that failed.
   */
  remote(socket: tls.TLSSocket, bundles: TrustBundleSet): void {
    const start = performance.now();
    const peer = tlsPeer(socket);
    socket.on('error', ignoreSocketError);
    let identity: Identity;
    try {
      identity = this.options.resolver.resolveSvid(verifyPeerSvid(socket, bundles));
    } catch (err) {
      if (err instanceof SvidVerificationError) peer.spiffeId = err.spiffeId ?? null;
      this.reject(
        socket,
        peer,
        null,
        `client certificate refused (${formatError(err)})`,
        start,
        // A client whose certificate is refused is not told more than TLS already said: closed.
        null,
      );
      return;
    }
    this.decide(socket, null, identity, start, peer);
  }

  /** A TLS client whose handshake failed: refused before any certificate could be looked at. */
  handshakeFailed(err: Error, socket: tls.TLSSocket): void {
    this.reject(socket, tlsPeer(socket), null, `TLS handshake failed (${formatError(err)})`, null, null);
  }

  // The resolver answers synchronously when the per-uid cache holds settled answers: then the connection is
  // decided in its accept callback, with no promise. Otherwise plain promise callbacks rather than
  // async/await: with AsyncLocalStorage active every promise pays for async hooks on Node 20.
  private resolve(socket: net.Socket, credentials: PeerCredentials, start: number): void {
    let resolving: UnixIdentity | Promise<UnixIdentity>;
    try {
      resolving = this.options.resolver.resolveNow(credentials);
    } catch (err) {
      this.failed(socket, credentials, err, start);
      return;
    }
    if (resolving instanceof Promise)
      resolving.then(
        (identity) => this.resolved(socket, credentials, identity, start),
        (err) => this.failed(socket, credentials, err, start),
      );
    else this.resolved(socket, credentials, resolving, start);
  }

  private resolved(
    socket: net.Socket,
    credentials: PeerCredentials,
    identity: UnixIdentity,
    start: number,
  ): void {
    this.decide(socket, credentials, this.options.memo.remember(credentials, identity), start);
  }

  private attest(
    socket: net.Socket,
    credentials: PeerCredentials,
    pidfd: number | null,
    processOptions: ProcessOptions,
    start: number,
  ): void {
    this.attestAndResolve(credentials, pidfd, processOptions).then(
      (identity) => this.decide(socket, credentials, identity, start),
      (err) => this.failed(socket, credentials, err, start),
    );
  }

  private async attestAndResolve(
    credentials: PeerCredentials,
    pidfd: number | null,
    processOptions: ProcessOptions,
  ): Promise<Identity> {
    const { resolver } = this.options;
    const attested = await attest(
      this.options.pool(),
      credentials.pid,
      pidfd,
      processOptions,
      this.options.keyOf?.(credentials.uid),
    );
    if (attested.ok) return resolver.resolve(credentials, attested.process);
    const identity = await resolver.resolve(credentials);
    // A new object rather than a push: the resolver's result may be frozen.
    const note = {
      stage: 'spiffe' as const,
      result: null,
      detail: `process attestation failed (${attested.reason}); identity carries no executable`,
    };
    return { ...identity, trail: [...identity.trail, note] };
  }

  private failed(socket: net.Socket, credentials: PeerCredentials, err: unknown, start: number): void {
    this.reject(
      socket,
      unixPeer(credentials),
      null,
      `identity resolution failed (${formatError(err)})`,
      start,
      'identity unknown',
    );
  }

  /** The policy's answer for a known identity: null admits, else the refusal's reason and class. */
  private refusal(
    socket: net.Socket,
    identity: Identity,
    credentials: PeerCredentials | null,
  ): { reason: string; why: RefusalClass } | null {
    const { allowRoles, maxConnections, admit } = this.options;
    if (allowRoles && !allowRoles.has(identity.role))
      return { reason: `role "${identity.role}" is not in allowRoles`, why: 'role not allowed' };
    if (this.open.size >= maxConnections)
      return {
        reason: `maxConnections (${maxConnections}) reached: ${this.open.size} admitted connections are open`,
        why: 'connection limit reached',
      };
    const { reservedConnections } = this.options.limits;
    if (
      reservedConnections > 0 &&
      this.open.size >= maxConnections - reservedConnections &&
      !(credentials !== null && isPrivilegedUid(credentials.uid))
    )
      return {
        reason: `only the ${reservedConnections} reservedConnections of maxConnections (${maxConnections}) are left, kept for root and the server's own user: ${this.open.size} admitted connections are open`,
        why: 'connection limit reached',
      };
    if (admit === null) return null;
    let answer: unknown;
    try {
      answer = admit(identity, credentials, socket);
    } catch (err) {
      return { reason: `admit hook failed (${formatError(err)})`, why: 'refused by policy' };
    }
    if (answer === true) return null;
    return {
      reason:
        typeof answer === 'string' && answer !== ''
          ? answer
          : `admit hook refused (returned ${typeof answer === 'string' ? 'an empty string' : String(answer)})`,
      why: 'refused by policy',
    };
  }

  private decide(
    socket: net.Socket,
    credentials: PeerCredentials | null,
    identity: Identity,
    start: number,
    remote?: AuditPeer,
  ): void {
    const { logger } = this.options;
    if (socket.destroyed) {
      const ms = performance.now() - start;
      const peer = remote ?? unixPeer(credentials);
      const reason = (socket as Closed)[kClosedBecause] ?? 'peer left before its identity was resolved';
      auditClosed(logger, socket, peer, identity, reason, ms, ms);
      return;
    }
    const refused = this.refusal(socket, identity, credentials);
    if (refused !== null) {
      this.reject(socket, remote ?? unixPeer(credentials), identity, refused.reason, start, refused.why);
      return;
    }
    const logged = levelEnabled(logger, 'info');
    // Measured only for someone to hear of it: the closing line, or a channel subscriber.
    const admissionMs = logged || connectionSubscribed() ? performance.now() - start : null;
    if (admissionMs !== null)
      auditAccepted(logger, socket, remote ?? unixPeer(credentials), identity, admissionMs);
    if (logged) this.unhookExit ??= writeBeforeExit(this.writeOpenAtExit);
    const connection = new OpenConnection(
      this,
      socket,
      remote ?? null,
      credentials,
      identity,
      start,
      admissionMs,
      logged,
    );
    this.open.add(connection);
    (socket as Tracked)[kOpen] = connection;
    socket.on('close', onAdmittedClose);
    setPeer(socket, identity);
    if (this.options.asyncContext) {
      bindEmitToIdentity(socket, identity);
      runWithIdentity(identity, this.options.onPeer, socket, identity);
    } else this.options.onPeer(socket, identity);
  }

  private reject(
    socket: net.Socket,
    peer: AuditPeer,
    identity: Identity | null,
    reason: string,
    start: number | null,
    /** What the caller may be told; null when nothing can reach it (a failed TLS handshake). */
    why: RefusalClass | null,
  ): void {
    if (why !== null && this.options.refusal === 'http' && socket.writable) refuseWithHttp(socket, why);
    else socket.destroy();
    const ms = start === null ? null : performance.now() - start;
    auditRejected(this.options.logger, socket, peer, identity, reason, ms);
    const { auth, credentials, remoteAddress } = peer;
    this.options.onRejected({ auth, credentials, remoteAddress, identity, reason });
  }
}

/** A TLS client as the audit line names it: "address:port" (IPv6 in brackets), null once the socket lost it. */
function tlsPeer(socket: net.Socket): AuditPeer {
  const { remoteAddress, remotePort } = socket;
  const address =
    remoteAddress === undefined
      ? null
      : remoteAddress.includes(':')
        ? `[${remoteAddress}]:${remotePort}`
        : `${remoteAddress}:${remotePort}`;
  return { auth: 'x509-svid', credentials: null, remoteAddress: address };
}
