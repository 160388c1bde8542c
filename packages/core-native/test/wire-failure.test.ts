// WireFailure (process-info.ts) has no PEERAUTH_ code by design: it never leaves the pool worker. What a
// caller of the public pool gets for each of its kinds is a typed error of this package's table, whose
// message is the failure's detail, never the bare kind WireFailure's own message would be.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { isPeerAuthError, LookupFailedError } from '../src/index.js';
import { WireFailure } from '../src/process-info.js';
import { createTestPool } from './helpers.js';

describe.skipIf(process.platform !== 'linux')(
  'a WireFailure reaches a caller only as a typed error (processInfo reads /proc: Linux)',
  () => {
    const pool = createTestPool({ threads: 1 });
    afterAll(() => pool.close());

    it('an fd that is not a pidfd: LookupFailedError, PEERAUTH_LOOKUP_FAILED, naming the fd', async () => {
      // The pool takes ownership of the fd and closes it.
      const fd = fs.openSync('/dev/null', 'r');
      const err = await pool.processInfo({ pid: process.pid, pidfd: fd }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LookupFailedError);
      expect(err).not.toBeInstanceOf(WireFailure);
      expect(isPeerAuthError(err)).toBe(true);
      expect(err).toMatchObject({
        code: 'PEERAUTH_LOOKUP_FAILED',
        message: `processInfo failed: fd ${fd} is not a pidfd`,
      });
    });
  },
);
