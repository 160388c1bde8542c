// maxConnectionsPerUid across processes that serve one socket (the CLI's --workers): the primary holds the
// only counts, and each worker asks it over the IPC channel at accept and tells it at close. One authority
// keeps the limit exact (two workers can never both admit a uid's last slot); the price is a round trip
// before the identity is resolved, paid only for a uid that is not privileged, with the takes and releases
// of one event-loop turn in one message.
import type net from 'node:net';
import { isPrivilegedUid, type UidCountStore, type UidCounts } from './connection-limits.js';

/** What a worker's IPC channel and a primary's ChildProcess both offer. */
export interface CountChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  readonly connected?: boolean;
}

// One message each way per event-loop turn, whatever the number of connections in it: a message over the
// IPC channel costs more than the counting itself. Releases go first (those connections are closed).
interface BatchMessage {
  peerauthUid: 'batch';
  /** Pairs: request id, uid. */
  take: number[];
  /** One uid per closed connection. */
  release: number[];
}
interface TookMessage {
  peerauthUid: 'took';
  /** Pairs: request id, refusal reason or null. */
  answers: (number | string | null)[];
}

function isMessage(message: unknown): message is { peerauthUid: string } {
  return typeof message === 'object' && message !== null && 'peerauthUid' in message;
}

const GONE = 'per-uid count unavailable: the primary is gone';

/** A worker's store: every count is the primary's. */
export class RemoteUidCounts implements UidCountStore {
  private nextId = 0;
  private readonly waiting = new Map<number, (refused: string | null) => void>();
  private pendingTakes: number[] = [];
  private pendingReleases: number[] = [];
  private scheduled = false;

  constructor(
    readonly max: number,
    private readonly channel: CountChannel,
  ) {
    channel.on('message', (message) => {
      if (!isMessage(message) || message.peerauthUid !== 'took') return;
      const { answers } = message as TookMessage;
      for (let i = 0; i + 1 < answers.length; i += 2) {
        const id = answers[i] as number;
        const settle = this.waiting.get(id);
        if (settle === undefined) continue;
        this.waiting.delete(id);
        settle(answers[i + 1] as string | null);
      }
    });
    // Without the primary nothing can be counted: the connections waiting for it are refused (fail closed).
    channel.on('disconnect', () => {
      for (const settle of this.waiting.values()) settle(GONE);
      this.waiting.clear();
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch: BatchMessage = {
      peerauthUid: 'batch',
      take: this.pendingTakes,
      release: this.pendingReleases,
    };
    this.pendingTakes = [];
    this.pendingReleases = [];
    if (this.channel.connected === false || this.channel.send === undefined) {
      for (let i = 0; i < batch.take.length; i += 2) {
        const settle = this.waiting.get(batch.take[i] as number);
        this.waiting.delete(batch.take[i] as number);
        settle?.(GONE);
      }
      return;
    }
    this.channel.send(batch);
  };

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  take(socket: net.Socket, uid: number): string | null | Promise<string | null> {
    // Never refused, so never counted: no round trip for root and the server's own user.
    if (isPrivilegedUid(uid)) return null;
    if (this.channel.connected === false || this.channel.send === undefined) return GONE;
    const id = this.nextId++;
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });
    return new Promise((resolve) => {
      this.waiting.set(id, (refused) => {
        if (refused === null) {
          // Counted: released when the socket closes (already closed: at once).
          const release = () => {
            this.pendingReleases.push(uid);
            this.schedule();
          };
          if (closed) release();
          else socket.once('close', release);
        }
        resolve(refused);
      });
      this.pendingTakes.push(id, uid);
      this.schedule();
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
    if (!isMessage(message) || message.peerauthUid !== 'batch') return;
    const { take, release } = message as BatchMessage;
    for (const uid of release) {
      const n = held.get(uid) ?? 0;
      if (n === 0) continue;
      if (n === 1) held.delete(uid);
      else held.set(uid, n - 1);
      counts.release(uid);
    }
    if (take.length === 0) return;
    const answers: (number | string | null)[] = [];
    for (let i = 0; i + 1 < take.length; i += 2) {
      const uid = take[i + 1] as number;
      const refused = counts.takeUid(uid);
      if (refused === null) held.set(uid, (held.get(uid) ?? 0) + 1);
      answers.push(take[i] as number, refused);
    }
    if (worker.connected !== false) worker.send?.({ peerauthUid: 'took', answers } satisfies TookMessage);
  });
  worker.on('disconnect', () => {
    for (const [uid, n] of held) for (let i = 0; i < n; i++) counts.release(uid);
    held.clear();
  });
}
