// The connection decisions as diagnostics_channel messages, as undici and pino publish theirs: tracing and
// metrics tools subscribe to `peerauth:connection` without a logger, and without a subscriber publishing
// costs one property read (channel.hasSubscribers). Each message is the audit event (audit.ts) with its
// decision named as admission knows it, plus the socket it is about.
import diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';
import type { AuditEvent } from './audit.js';

export const CONNECTION_CHANNEL = 'peerauth:connection';

/** `admitted` is the audit trail's `accepted`: the word the channel uses for admission's own answer. */
export type ConnectionDecision = 'admitted' | 'rejected' | 'closed';

export interface ConnectionMessage extends Omit<AuditEvent, 'decision'> {
  decision: ConnectionDecision;
  /**
   * The connection's socket (a TLSSocket for a remote peer). In `rejected` it is destroyed, or ending after its
   * 403 with `refusal: 'http'`; in `closed` it is gone. For reading only.
   */
  socket: net.Socket;
}

const channel = diagnosticsChannel.channel(CONNECTION_CHANNEL);

/** Whether anyone listens: checked before building a message, so that no subscriber costs nothing. */
export function connectionSubscribed(): boolean {
  return channel.hasSubscribers;
}

export function publishConnection(event: AuditEvent, socket: net.Socket): void {
  const decision = event.decision === 'accepted' ? 'admitted' : event.decision;
  channel.publish({ ...event, decision, socket } satisfies ConnectionMessage);
}
