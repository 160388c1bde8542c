// Messages between the pool (main thread) and its workers. Errors travel as plain data because
// structured cloning drops the class and the `code` of an Error; the main thread rebuilds them.

export type Task =
  // Start-up: answered once a worker has loaded the addon.
  | { op: 'ready' }
  | { op: 'lookupUser'; uid: number }
  | { op: 'lookupUserByName'; name: string }
  | { op: 'lookupGroup'; gid: number }
  | { op: 'lookupGroups'; gids: number[] }
  | { op: 'userGroups'; name: string; gid: number }
  | { op: 'userGroupNames'; name: string; gid: number }
  | {
      op: 'processInfo';
      pid: number;
      pidfd: number | null;
      sha256: boolean;
      maxBytes: number;
    };

export type WireError =
  | { kind: 'exited'; pid: number; detail: string }
  | { kind: 'tooLarge'; path: string; maxBytes: number }
  | { kind: 'unavailable'; platform: string; reason: string }
  | { kind: 'failed'; errnoName: string | null; detail: string };

export type TaskResult = { ok: true; value: unknown } | { ok: false; error: WireError };
