// maxConnectionsPerUid across processes that serve one socket (the CLI's --workers): the primary holds the
// only counts, and each worker asks it over the IPC channel at accept and tells it at close. One authority
// keeps the limit exact (two workers can never both admit a uid's last slot); the price is one round trip
// per connection, before the identity is resolved, paid only for a uid that is not privileged.
import type net from 'node:net';
import { isPrivilegedUid, type UidCountStore, type UidCounts } from './connection-limits.js';

/** What a worker's IPC channel and a primary's ChildProcess both offer. */
export interface CountChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  readonly connected?: boolean;
}

interface TakeMessage {
  peerauthUid: 'take';
  id: number;
  uid: number;
}
interface ReleaseMessage {
  peerauthUid: 'release';
  uid: number;
}
interface TookMessage {
  peerauthUid: 'took';
  id: number;
  refused: string | null;
}

function isMessage(message: unknown): message is { peerauthUid: string } {
  return typeof message === 'object' && message !== null && 'peerauthUid' in message;
}

/** A worker's store: every count is the primary's. */
export class RemoteUidCounts implements UidCountStore {
  private nextId = 0;
  private readonly waiting = new Map<number, (refused: string | null) => void>();

  constructor(
    readonly max: number,
    private readonly channel: CountChannel,
  ) {
    channel.on('message', (message) => {
      if (!isMessage(message) || message.peerauthUid !== 'took') return;
      const { id, refused } = message as TookMessage;
      const settle = this.waiting.get(id);
      if (settle === undefined) return;
      this.waiting.delete(id);
      settle(refused);
    });
    // Without the primary nothing can be counted: the connections waiting for it are refused (fail closed).
    channel.on('disconnect', () => {
      for (const settle of this.waiting.values()) settle('per-uid count unavailable: the primary is gone');
      this.waiting.clear();
    });
  }

  take(socket: net.Socket, uid: number): string | null | Promise<string | null> {
    // Never refused, so never counted: no round trip for root and the server's own user.
    if (isPrivilegedUid(uid)) return null;
    if (this.channel.connected === false || this.channel.send === undefined)
      return 'per-uid count unavailable: the primary is gone';
    const id = this.nextId++;
    const send = this.channel.send.bind(this.channel);
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });
    return new Promise((resolve) => {
      this.waiting.set(id, (refused) => {
        if (refused === null) {
          // Counted: released when the socket closes (already closed: at once).
          const release = () => {
            if (this.channel.connected !== false)
              send({ peerauthUid: 'release', uid } satisfies ReleaseMessage);
          };
          if (closed) release();
          else socket.once('close', release);
        }
        resolve(refused);
      });
      send({ peerauthUid: 'take', id, uid } satisfies TakeMessage);
    });
  }
}

/**
 * The primary's side for one worker: its takes and releases go to `counts` (the primary's own server counts
 * there too). What the worker still holds when it ends is released, so its connections never stay counted.
 */
export function answerUidCounts(worker: CountChannel, counts: UidCounts): void {
  const held = new Map<number, number>();
  worker.on('message', (message) => {
    if (!isMessage(message)) return;
    if (message.peerauthUid === 'take') {
      const { id, uid } = message as TakeMessage;
      const refused = counts.takeUid(uid);
      if (refused === null) held.set(uid, (held.get(uid) ?? 0) + 1);
      if (worker.connected !== false)
        worker.send?.({ peerauthUid: 'took', id, refused } satisfies TookMessage);
    } else if (message.peerauthUid === 'release') {
      const { uid } = message as ReleaseMessage;
      const n = held.get(uid) ?? 0;
      if (n === 0) return;
      if (n === 1) held.delete(uid);
      else held.set(uid, n - 1);
      counts.release(uid);
    }
  });
  worker.on('disconnect', () => {
    for (const [uid, n] of held) for (let i = 0; i < n; i++) counts.release(uid);
    held.clear();
  });
}
