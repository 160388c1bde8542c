// One structured event per connection at info: `closed` for an admitted connection (written when it ends,
// with everything the decision knew and how long the connection lasted), `rejected` (warn) for a refused
// one. `accepted`, written at the decision, is debug: a second line per connection that carries nothing the
// closing line lacks, and serialising it cost a fifth of the connection rate. Only who/what/why and timing
// are logged: the server never reads payload bytes on the application's behalf, so none can leak here.
import type net from 'node:net';
import type { PeerCredentials } from '@peerauth/core-native';
import type { Identity } from '@peerauth/identity';
import { connectionSubscribed, publishConnection } from './connection-channel.js';
import { directLines } from './direct-lines.js';
import { levelEnabled, type PeerLogger } from './logger.js';

export type AuditDecision = 'accepted' | 'rejected' | 'closed';

/** Who connected, as the transport knows it before (or without) an identity. */
export interface AuditPeer {
  auth: 'unix' | 'x509-svid';
  /** A Unix peer's kernel credentials; null for a remote peer (and for a Unix one whose were unreadable). */
  credentials: PeerCredentials | null;
  /** A remote peer's address and port ("192.0.2.7:51234", "[2001:db8::7]:51234"); null for a Unix peer. */
  remoteAddress: string | null;
  /** The SPIFFE ID read from a refused certificate, when it was read before the refusal. */
  spiffeId?: string | null;
}

/** A Unix peer as the audit line names it. */
export function unixPeer(credentials: PeerCredentials | null): AuditPeer {
  return { auth: 'unix', credentials, remoteAddress: null };
}

export interface AuditEvent {
  event: 'peerauth.connection';
  decision: AuditDecision;
  /** How the peer was (or was to be) authenticated: kernel credentials on a Unix socket, or an X.509-SVID. */
  auth: 'unix' | 'x509-svid';
  /** A remote peer's address and port; null for a Unix peer. */
  remoteAddress: string | null;
  /** The connecting process's ids: `peer*` so that no log tool takes them for the logger's own `pid`. */
  peerUid: number | null;
  peerGid: number | null;
  peerPid: number | null;
  username: string | null;
  person: string | null;
  role: string | null;
  fallback: boolean | null;
  spiffeId: string | null;
  reason: string | null;
  /**
   * accepted, rejected: time from accept to the decision (null for a failed TLS handshake). closed: time
   * from accept to the close.
   */
  durationMs: number | null;
  /** closed: time from accept to the admission decision; null in the other events. */
  admissionMs: number | null;
}

function ms(value: number | null): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;
}

function buildEvent(
  decision: AuditDecision,
  peer: AuditPeer,
  identity: Identity | null | undefined,
  reason: string | null,
  durationMs: number | null,
  admissionMs: number | null = null,
): AuditEvent {
  const unix = identity?.auth === 'unix' ? identity : null;
  const { credentials } = peer;
  return {
    event: 'peerauth.connection',
    decision,
    auth: peer.auth,
    remoteAddress: peer.remoteAddress ?? null,
    peerUid: credentials?.uid ?? unix?.uid ?? null,
    peerGid: credentials?.gid ?? unix?.gid ?? null,
    peerPid: credentials?.pid ?? unix?.pid ?? null,
    username: unix?.username ?? null,
    person: identity?.person?.name ?? null,
    role: identity?.role ?? null,
    fallback: identity ? identity.fallback : null,
    spiffeId: identity?.spiffeId ?? peer.spiffeId ?? null,
    reason: reason ?? null,
    durationMs: ms(durationMs),
    admissionMs: ms(admissionMs),
  };
}

// pino's level numbers for the levels audit events use.
const LEVEL = { debug: 20, info: 30, warn: 40 } as const;

// As pino writes them: a number that is not finite as null (JSON has no NaN); a missing value as null
// (buildEvent gives every field a value, so pino sees the same null).
const str = (value: string | null): string => (typeof value === 'string' ? JSON.stringify(value) : 'null');
const num = (value: number | null): string =>
  typeof value === 'number' && Number.isFinite(value) ? String(value) : 'null';

/**
 * num() for a duration in ms rounded to the µs (buildEvent's ms()): the same digits String() gives, written
 * from the whole number of µs. Formatting the float itself cost four times as much, twice per line. Any
 * other value (not a whole µs, negative, huge) goes through String().
 */
function msNum(value: number | null): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'null';
  const us = Math.round(value * 1000);
  if (us < 0 || us > 0x3fffffff || us / 1000 !== value) return String(value);
  const whole = (us / 1000) | 0;
  let fraction = us - whole * 1000;
  if (fraction === 0) return `${whole}`;
  // Trailing zeros go, as String() drops them: 1.5, not 1.500.
  let digits = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  const zeros = digits - (fraction < 10 ? 1 : fraction < 100 ? 2 : 3);
  return `${whole}.${zeros === 2 ? '00' : zeros === 1 ? '0' : ''}${fraction}`;
}

/**
 * JSON.stringify of one field's string, remembering the last value: on a busy server a connection mostly
 * comes from the same user as the one before it, whose names (the memo's shared identity) are the same
 * strings, so most lines quote nothing again.
 */
class Quoted {
  private last: string | null = null;
  private json = 'null';

  of(value: string | null): string {
    if (value === this.last) return this.json;
    if (typeof value !== 'string') return 'null';
    this.last = value;
    this.json = JSON.stringify(value);
    return this.json;
  }
}
const quoted = {
  auth: new Quoted(),
  username: new Quoted(),
  person: new Quoted(),
  role: new Quoted(),
  spiffeId: new Quoted(),
  msg: new Quoted(),
};
// Only true and false are written as they are: the line stays JSON whatever a caller passed.
const bool = (value: boolean | null): string =>
  value === true ? 'true' : value === false ? 'false' : 'null';

/**
 * The JSON line pino would write for `event` and `msg` on a logger with these bindings: same keys, same
 * order, same escaping, checked against pino itself in logger.test.ts. The keys are AuditEvent's, written
 * out rather than looped over. One difference, on purpose: a lone UTF-16 surrogate (possible in a config
 * name or an admit hook's reason) is written escaped (`\ud800`), as JSON.stringify does; pino's fast path
 * for short strings writes it raw, and the UTF-8 encoding of the line then turns it into U+FFFD.
 */
export function auditLine(
  level: keyof typeof LEVEL,
  time: number,
  bindings: string,
  e: AuditEvent,
  msg: string,
): string {
  return (
    `{"level":${LEVEL[level]},"time":${time}${bindings},"event":"${e.event}","decision":"${e.decision}",` +
    `"auth":${quoted.auth.of(e.auth)},"remoteAddress":${str(e.remoteAddress)},"peerUid":${num(e.peerUid)},` +
    `"peerGid":${num(e.peerGid)},"peerPid":${num(e.peerPid)},"username":${quoted.username.of(e.username)},` +
    `"person":${quoted.person.of(e.person)},"role":${quoted.role.of(e.role)},"fallback":${bool(e.fallback)},` +
    `"spiffeId":${quoted.spiffeId.of(e.spiffeId)},"reason":${str(e.reason)},"durationMs":${msNum(e.durationMs)},` +
    `"admissionMs":${msNum(e.admissionMs)},"msg":${quoted.msg.of(msg)}}\n`
  );
}

function write(logger: PeerLogger, level: keyof typeof LEVEL, event: AuditEvent, msg: string): void {
  const lines = directLines(logger);
  const bindings = lines?.bindings() ?? null;
  if (lines !== undefined && bindings !== null)
    lines.write(auditLine(level, Date.now(), bindings, event, msg), level === 'warn');
  else logger[level]?.(event, msg);
}

/**
 * Both outlets of one decision: the log line, when `logged`, and the `peerauth:connection` message, when
 * the channel has subscribers. Callers build the event only when one of them takes it (no closure per
 * connection on the accept path).
 */
function record(
  logger: PeerLogger,
  level: keyof typeof LEVEL,
  logged: boolean,
  published: boolean,
  socket: net.Socket,
  event: AuditEvent,
  msg: string,
): void {
  if (logged) write(logger, level, event, msg);
  if (published) publishConnection(event, socket);
}

/** At debug: the closing line carries the same fields, so at info one line per connection is enough. */
export function auditAccepted(
  logger: PeerLogger,
  socket: net.Socket,
  peer: AuditPeer,
  identity: Identity,
  durationMs: number,
): void {
  const logged = logger.debug !== undefined && levelEnabled(logger, 'debug');
  const published = connectionSubscribed();
  if (!logged && !published) return;
  const event = buildEvent('accepted', peer, identity, null, durationMs);
  record(logger, 'debug', logged, published, socket, event, 'peer connection accepted');
}

/** Admission's refusal (admission.ts is the one caller): `durationMs` null when no decision time is known. */
export function auditRejected(
  logger: PeerLogger,
  socket: net.Socket,
  peer: AuditPeer,
  identity: Identity | null,
  reason: string,
  durationMs: number | null,
): void {
  const logged = levelEnabled(logger, 'warn');
  const published = connectionSubscribed();
  if (!logged && !published) return;
  const event = buildEvent('rejected', peer, identity, reason, durationMs);
  record(logger, 'warn', logged, published, socket, event, 'peer connection rejected');
}

/**
 * `logged` false: only the channel hears it (the line was written at exit, or info is off). `publish`
 * false: only the line (the process is ending with the connection open; the channel hears of real closes).
 */
export function auditClosed(
  logger: PeerLogger,
  socket: net.Socket,
  peer: AuditPeer,
  identity: Identity,
  reason: string | null,
  durationMs: number,
  admissionMs: number | null,
  logged = true,
  publish = true,
): void {
  const log = logged && levelEnabled(logger, 'info');
  const published = publish && connectionSubscribed();
  if (!log && !published) return;
  const event = buildEvent('closed', peer, identity, reason, durationMs, admissionMs);
  record(logger, 'info', log, published, socket, event, 'peer connection closed');
}
