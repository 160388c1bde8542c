// Admission: the one place that decides a connection. Credentials (the kernel's, read at accept) →
// identity (memo or resolver, optionally with process attestation) → policy (allowRoles, maxConnections,
// the admit hook) → accepted or rejected. Every connection gets exactly one decision: the 'peer' callback
// with its audit event, or the 'rejected' callback with its audit event. A peer that leaves before its
// identity is known gets neither: its audit line says it closed before a decision.
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  type CredentialPool,
  formatError,
  getPeerCredentials,
  type PeerCredentials,
} from '@peerauth/core-native';
import { type Identity, type Resolver, runWithIdentity, type UnixIdentity } from '@peerauth/identity';
import { attest, type ProcessOptions, takePidfd } from './attest.js';
import { auditAccepted, auditClosed, auditRejected } from './audit.js';
import { InvalidServerOptionError } from './errors.js';
import type { IdentityMemo } from './identity-memo.js';
import { levelEnabled, type PeerLogger, writeBeforeExit } from './logger.js';
import { setPeer } from './peers.js';

export interface RejectedEvent {
  credentials: PeerCredentials | null;
  identity: Identity | null;
  reason: string;
}

/**
 * An application's own admission rule, asked after allowRoles and maxConnections, synchronously, for every
 * connection whose identity is known. Return `true` to admit; any string refuses the connection with that
 * string as the audit reason. Anything else (and a throw) refuses too: admission fails closed.
 */
export type AdmitHook = (identity: Identity, credentials: PeerCredentials) => true | string;

export interface AdmissionPolicy {
  /** Roles admitted; null admits every role. */
  allowRoles: ReadonlySet<string> | null;
  /** Most admitted connections open at once; Infinity for no limit. */
  maxConnections: number;
  admit: AdmitHook | null;
}

export interface AdmissionOptions extends AdmissionPolicy {
  resolver: Resolver;
  memo: IdentityMemo;
  logger: PeerLogger;
  /** Also attest the peer executable; the pool is asked for only then. */
  processOptions: ProcessOptions | null;
  pool: () => CredentialPool;
  /** Run the 'peer' listeners and the socket's later events inside the identity context. */
  asyncContext: boolean;
  onPeer: (socket: net.Socket, identity: Identity) => void;
  onRejected: (event: RejectedEvent) => void;
}

/** maxConnections as given: a whole number >= 1, or undefined for no limit. */
export function parseMaxConnections(value: unknown): number {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidServerOptionError('maxConnections', value, 'expected a whole number >= 1');
  return value;
}

/** The admit hook as given: a function or undefined. */
export function parseAdmitHook(value: unknown): AdmitHook | null {
  if (value === undefined) return null;
  if (typeof value !== 'function')
    throw new InvalidServerOptionError('admit', value, 'expected a function (identity, credentials)');
  return value as AdmitHook;
}

// Errors on accepted sockets (a client resetting the connection) must not crash a daemon; the 'closed'
// audit event records that the connection ended with an error.
function ignoreSocketError(): void {}

/**
 * Makes currentIdentity() work in every listener of this socket, whenever it runs. AsyncLocalStorage alone
 * does not do it: the socket's later events come from its libuv handle, created at accept outside any
 * identity context. Events nobody listens to skip the context switch (emit would do nothing anyway).
 */
function bindEmitToIdentity(socket: net.Socket, identity: Identity): void {
  const emit = socket.emit as (this: net.Socket, event: string | symbol, ...args: unknown[]) => boolean;
  socket.emit = function emitWithIdentity(this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (this.listenerCount(event) === 0) return emit.call(this, event, ...args);
    return runWithIdentity(identity, () => emit.call(this, event, ...args));
  } as net.Socket['emit'];
}

/** An admitted connection the server keeps track of: for maxConnections, and for its closing audit line. */
class OpenConnection {
  constructor(
    private readonly admission: Admission,
    readonly socket: net.Socket,
    readonly credentials: PeerCredentials,
    readonly identity: Identity,
    readonly start: number,
    /** Time to the decision; null when the connection is not audited. */
    readonly admissionMs: number | null,
  ) {}

  readonly onClose = (hadError: boolean): void => {
    this.admission.closed(this, hadError ? 'transmission error' : null);
  };
}

const ENDED_OPEN = 'the server process ended with the connection open';

export class Admission {
  private readonly options: AdmissionOptions;
  /** Admitted connections still open: tracked under maxConnections and while auditing. */
  private readonly open = new Set<OpenConnection>();
  private readonly countsOpen: boolean;
  /** Takes back the exit writer; set while connections are open. */
  private unhookExit: (() => void) | null = null;

  constructor(options: AdmissionOptions) {
    this.options = options;
    this.countsOpen = Number.isFinite(options.maxConnections);
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
    if (connection.admissionMs === null) return;
    auditClosed(
      this.options.logger,
      connection.credentials,
      connection.identity,
      reason,
      performance.now() - connection.start,
      connection.admissionMs,
    );
  }

  private readonly writeOpenAtExit = (): void => {
    const open = [...this.open];
    this.open.clear();
    this.unhookExit = null;
    for (const connection of open) this.auditClosed(connection, ENDED_OPEN);
  };

  /** The net.Server 'connection' listener. */
  readonly connection = (socket: net.Socket): void => {
    const start = performance.now();
    let credentials: PeerCredentials;
    try {
      // Synchronously, in the accept callback: the kernel's answer for this connection, nothing inferred.
      credentials = getPeerCredentials(socket);
    } catch (err) {
      this.reject(socket, null, null, `peer credentials unavailable (${formatError(err)})`, start);
      return;
    }
    socket.on('error', ignoreSocketError);
    const { processOptions } = this.options;
    if (processOptions) {
      this.attest(socket, credentials, takePidfd(socket), processOptions, start);
      return;
    }
    const known = this.options.memo.get(credentials);
    if (known) this.decide(socket, credentials, known, start);
    else this.resolve(socket, credentials, start);
  };

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
    const attested = await attest(this.options.pool(), credentials.pid, pidfd, processOptions);
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
    this.reject(socket, credentials, null, `identity resolution failed (${formatError(err)})`, start);
  }

  /** The policy's answer for a known identity: null admits, a string is the refusal reason. */
  private refusal(identity: Identity, credentials: PeerCredentials): string | null {
    const { allowRoles, maxConnections, admit } = this.options;
    if (allowRoles && !allowRoles.has(identity.role)) return `role "${identity.role}" is not in allowRoles`;
    if (this.open.size >= maxConnections)
      return `maxConnections (${maxConnections}) reached: ${this.open.size} admitted connections are open`;
    if (admit === null) return null;
    let answer: unknown;
    try {
      answer = admit(identity, credentials);
    } catch (err) {
      return `admit hook failed (${formatError(err)})`;
    }
    if (answer === true) return null;
    return typeof answer === 'string' && answer !== ''
      ? answer
      : `admit hook refused (returned ${typeof answer === 'string' ? 'an empty string' : String(answer)})`;
  }

  private decide(socket: net.Socket, credentials: PeerCredentials, identity: Identity, start: number): void {
    const { logger } = this.options;
    if (socket.destroyed) {
      const ms = performance.now() - start;
      auditClosed(logger, credentials, identity, 'peer left before its identity was resolved', ms, ms);
      return;
    }
    const refused = this.refusal(identity, credentials);
    if (refused !== null) {
      this.reject(socket, credentials, identity, refused, start);
      return;
    }
    const audited = levelEnabled(logger, 'info');
    if (audited || this.countsOpen) {
      const admissionMs = audited ? performance.now() - start : null;
      if (admissionMs !== null) auditAccepted(logger, credentials, identity, admissionMs);
      const connection = new OpenConnection(this, socket, credentials, identity, start, admissionMs);
      this.open.add(connection);
      this.unhookExit ??= writeBeforeExit(this.writeOpenAtExit);
      socket.on('close', connection.onClose);
    }
    setPeer(socket, identity);
    if (this.options.asyncContext) {
      bindEmitToIdentity(socket, identity);
      runWithIdentity(identity, () => this.options.onPeer(socket, identity));
    } else this.options.onPeer(socket, identity);
  }

  private reject(
    socket: net.Socket,
    credentials: PeerCredentials | null,
    identity: Identity | null,
    reason: string,
    start: number,
  ): void {
    socket.destroy();
    auditRejected(this.options.logger, credentials, identity, reason, performance.now() - start);
    this.options.onRejected({ credentials, identity, reason });
  }
}
