// doctor and serve agree about a directory serve cannot write to: here root without CAP_DAC_OVERRIDE
// (dropped from the bounding set by setpriv) and a 0555 directory, where the permission bits look fine
// for root. serve fails with a PEERAUTH_ code naming the directory; doctor says the same beforehand.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { bin, run, tempDir } from './helpers.js';

describeAsRoot('a socket directory serve cannot write to', () => {
  let dir: string;
  let readOnly: string;
  // Root without the capabilities that bypass directory permissions.
  const noOverride = ['--bounding-set', '-dac_override,-dac_read_search', process.execPath, bin];

  beforeAll(() => {
    dir = tempDir('pa28d-');
    readOnly = path.join(dir, 'ro');
    fs.mkdirSync(readOnly, { mode: 0o555 });
    fs.chmodSync(readOnly, 0o555);
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serve exits 1 with PEERAUTH_SOCKET_DIRECTORY_NOT_WRITABLE naming the directory, not its temp name', async () => {
    const r = await run('setpriv', [...noOverride, 'serve', '--socket', path.join(readOnly, 's.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^peerauth: PEERAUTH_SOCKET_DIRECTORY_NOT_WRITABLE: cannot create the socket in ${readOnly}: `,
        'm',
      ),
    );
    expect(r.stderr).toContain('(EACCES)');
    expect(r.stderr).not.toContain('.pa-');
    expect(fs.readdirSync(readOnly)).toEqual([]);
  });

  it('doctor says so too (exit 1) and leaves nothing in the directory', async () => {
    const r = await run('setpriv', [...noOverride, 'doctor', '--socket', path.join(readOnly, 's.sock')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `directory   ${readOnly}: PROBLEM: cannot create the socket in ${readOnly}: this process may not create files in it`,
    );
    expect(fs.readdirSync(readOnly)).toEqual([]);
  });

  it('where serve can write, doctor says ok and leaves nothing behind', async () => {
    const r = await run(process.execPath, [bin, 'doctor', '--socket', path.join(dir, 's.sock')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`directory   ${dir}: ok`);
    expect(fs.readdirSync(dir)).toEqual(['ro']);
  });
});
