// --tls-max-handshakes has the ceiling of the server's tls.maxPendingHandshakes (4096): a larger count is
// refused by the flag's parser, naming the flag, as every other count out of range (exit 1), before
// anything is bound. Before, the flag took any count and the server refused it naming its option instead.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliToExit, tempDir } from './helpers.js';

describe('--tls-max-handshakes', () => {
  it('4097 under serve and proxy: exit 1 with PEERAUTH_INVALID_ARGUMENT naming the flag and its range', async () => {
    const dir = tempDir('pacli-handshakes-');
    const socket = path.join(dir, 's.sock');
    for (const argv of [
      ['serve', '--socket', socket],
      ['proxy', '--socket', socket, '--upstream', 'http://127.0.0.1:1'],
    ]) {
      const r = await runCliToExit([...argv, '--tls-max-handshakes', '4097']);
      expect(r.timedOut, r.stderr).toBeUndefined();
      expect({ command: argv[0], code: r.code }).toEqual({ command: argv[0], code: 1 });
      expect(r.stderr).toBe(
        'peerauth: PEERAUTH_INVALID_ARGUMENT: --tls-max-handshakes must be a whole number from 1 to 4096, got "4097"\n',
      );
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
