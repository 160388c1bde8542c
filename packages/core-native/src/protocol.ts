// Messages between the pool (main thread) and its workers. Errors travel as plain data because
// structured cloning drops the class and the `code` of an Error; the main thread rebuilds them.

export type TestHookKind = 'hang' | 'crash';

export type Task =
  | { op: 'lookupUser'; uid: number }
  | { op: 'lookupUserByName'; name: string }
  | { op: 'lookupGroup'; gid: number }
  | { op: 'lookupGroups'; gids: number[] }
  | { op: 'userGroups'; name: string; gid: number }
  | {
      op: 'processInfo';
      pid: number;
      pidfd: number | null;
      sha256: boolean;
      maxBytes: number;
      /** Test-only (needs testHooks): hang once the executable is open, to exercise timeouts. */
      testHangAfterOpen?: boolean;
      /**
       * Test-only (needs testHooks): after reading, set gate[1] = 1 and wait until gate[0] != 0, so a
       * test can end or replace the process before the liveness check.
       */
      testGate?: Int32Array;
    }
  | { op: '__test'; kind: TestHookKind };

export type WireError =
  | { kind: 'exited'; pid: number; detail: string }
  | { kind: 'tooLarge'; path: string; maxBytes: number }
  | { kind: 'unavailable'; platform: string; reason: string }
  | { kind: 'failed'; errnoName: string | null; detail: string };

export type TaskResult = { ok: true; value: unknown } | { ok: false; error: WireError };

export interface WorkerData {
  /** Test-only: lets '__test' tasks make a worker hang or crash. Never set in production. */
  testHooks: boolean;
}
