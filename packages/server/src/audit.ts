// One structured event per accepted, rejected and closed connection. Only who/what/why and timing are
// logged: the server never reads payload bytes on the application's behalf, so none can leak here.
import type { PeerCredentials } from '@peerauth/core-native';
import type { Identity } from '@peerauth/identity';
import { levelEnabled, type PeerLogger } from './logger.js';

export type AuditDecision = 'accepted' | 'rejected' | 'closed';

export interface AuditEvent {
  event: 'peerauth.connection';
  decision: AuditDecision;
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
  /** Time from accept to the decision; null for a refusal made after the server handed the connection on. */
  durationMs: number | null;
}

function buildEvent(
  decision: AuditDecision,
  credentials: PeerCredentials | null,
  identity: Identity | null | undefined,
  reason: string | null,
  durationMs: number | null,
): AuditEvent {
  return {
    event: 'peerauth.connection',
    decision,
    peerUid: credentials?.uid ?? identity?.uid ?? null,
    peerGid: credentials?.gid ?? identity?.gid ?? null,
    peerPid: credentials?.pid ?? identity?.pid ?? null,
    username: identity?.username ?? null,
    person: identity?.person?.name ?? null,
    role: identity?.role ?? null,
    fallback: identity ? identity.fallback : null,
    spiffeId: identity?.spiffeId ?? null,
    reason,
    durationMs: durationMs === null ? null : Math.round(durationMs * 1000) / 1000,
  };
}

export function auditAccepted(
  logger: PeerLogger,
  credentials: PeerCredentials,
  identity: Identity,
  durationMs: number,
): void {
  if (!levelEnabled(logger, 'info')) return;
  logger.info(buildEvent('accepted', credentials, identity, null, durationMs), 'peer connection accepted');
}

/**
 * Also for applications and the CLI that refuse a connection after the 'peer' event (exec's bound on
 * children, an identity that cannot be passed on): the same event shape, with `durationMs: null`.
 */
export function auditRejected(
  logger: PeerLogger,
  credentials: PeerCredentials | null,
  identity: Identity | null,
  reason: string,
  durationMs: number | null,
): void {
  if (!levelEnabled(logger, 'warn')) return;
  logger.warn(buildEvent('rejected', credentials, identity, reason, durationMs), 'peer connection rejected');
}

export function auditClosed(
  logger: PeerLogger,
  identity: Identity,
  reason: string | null,
  durationMs: number,
): void {
  if (!levelEnabled(logger, 'info')) return;
  logger.info(buildEvent('closed', null, identity, reason, durationMs), 'peer connection closed');
}
