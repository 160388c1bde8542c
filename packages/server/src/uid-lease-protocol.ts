// The messages of the per-uid count shared across processes (see cluster-limits.ts): what a worker and the
// primary send each other over the IPC channel.

/** What a worker's IPC channel and a primary's ChildProcess both offer. */
export interface CountChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  readonly connected?: boolean;
}

// Worker to primary, once per turn at most.
export interface BatchMessage {
  peerauthUid: 'batch';
  /** Triples: uid, slots asked for (connections waiting), never 0. */
  want: number[];
  /** Pairs: uid, slots handed back unasked (closed after a reclaim, or idle). */
  give: number[];
  /** Pairs: uid, slots handed back in answer to a reclaim (one pair per reclaim, possibly 0). */
  returned: number[];
}
// Primary to worker.
export interface GrantMessage {
  peerauthUid: 'grant';
  /** Quadruples: uid, slots asked for, slots granted (may exceed those asked), refusal reason or null. */
  answers: (number | string | null)[];
}
export interface ReclaimMessage {
  peerauthUid: 'reclaim';
  uids: number[];
}

export function isMessage(message: unknown): message is { peerauthUid: string } {
  return typeof message === 'object' && message !== null && 'peerauthUid' in message;
}
