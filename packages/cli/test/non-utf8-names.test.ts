// A user database name that is not valid UTF-8 must not collapse into another one: `q\xff` and `q\xfe`
// both decode to `q\ufffd`, which would give two accounts one selector and one person. Such a name is
// refused as a failed lookup (EILSEQ), which fails closed.
import { describe, expect, it } from 'vitest';
import { nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { runCli } from './helpers.js';

describe.skipIf(process.platform !== 'linux')(
  'usernames that are not valid UTF-8 (Linux: LD_PRELOAD NSS faults)',
  () => {
    it('resolve refuses each with PEERAUTH_LOOKUP_FAILED naming EILSEQ, never as q\\ufffd', async () => {
      const uid = process.getuid?.() ?? 0;
      for (const hex of ['71ff', '71fe']) {
        const env = nssFaultEnv([{ call: 'getpwuid_r', key: uid, action: `name${hex}` }]);
        const r = await runCli(['resolve', '--json', String(uid)], { env });
        expect(r.stdout).not.toContain('q\ufffd');
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/PEERAUTH_LOOKUP_FAILED: .*EILSEQ/);
        expect(r.stderr).toContain('not valid UTF-8');
      }
    });

    it('a group name that is not valid UTF-8 is refused the same way', async () => {
      const uid = process.getuid?.() ?? 0;
      const gid = process.getgid?.() ?? 0;
      const env = nssFaultEnv([{ call: 'getgrgid_r', key: gid, action: 'name67ff' }]);
      const r = await runCli(['resolve', '--json', String(uid)], { env });
      expect(r.stdout).not.toContain('g\ufffd');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the group name is not valid UTF-8');
    });
  },
);
