// A connection that exec or proxy cannot serve (an identity value that cannot go into a child's environment
// or a header) is refused by the server's admission, before 'peer': exactly one audit line, `rejected`, and
// no `closed` line (which only a connection counted open gets). Another real uid connects (the system user
// daemon, uid 1: no test user is created, so /etc/passwd is never rewritten under other tests), whose passwd
// entry, as the server's NSS answers it, holds a control character.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nssFaultEnv } from '../../../test-fixtures/nss-fault.js';
import { readableCopy } from '../../../test-fixtures/readable.js';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { fixtures, type RunningCli, run, startCli, tempDir, waitFor } from './helpers.js';
import { startPythonUpstream } from './upstreams.js';

const echo = path.join(fixtures, 'jsonrpc-echo.mjs');
// Run as the other uid: from a copy it can read, wherever the checkout is.
const client = readableCopy(path.join(fixtures, 'cli/line-client.mjs'));
const UID = 1;
const GID = 1;
const user = { uid: UID, gid: GID, groups: [GID] };

/** The audit lines (event peerauth.connection) of uid `uid`, once the CLI has stopped and flushed. */
function auditOf(cli: RunningCli, uid: number): Record<string, unknown>[] {
  return cli
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.event === 'peerauth.connection' && e.peerUid === uid);
}

describeAsRoot('a connection exec or proxy cannot serve is refused by admission', () => {
  let dir: string;
  // Its username as the server's getpwuid_r answers it: a line break and a forged variable or header.
  const forged = 'daemon\nPEERAUTH_ROLE=owner';
  const env = () =>
    nssFaultEnv([{ call: 'getpwuid_r', key: UID, action: `name${Buffer.from(forged).toString('hex')}` }]);

  beforeAll(() => {
    dir = tempDir('pa27r-');
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exec: a username that cannot be exported gives one rejected line, no closed line, no child', async () => {
    const cli = await startCli(
      ['exec', '--mode', '0666', '--', process.execPath, echo],
      path.join(dir, 'e.sock'),
      { env: env() },
    );
    let stopped = false;
    try {
      const refused = await run(process.execPath, [client, cli.socket], user);
      expect(refused.stdout.trim()).toBe('CLOSED');
      // Everyone else is still served.
      const served = await run(process.execPath, [client, cli.socket]);
      expect(JSON.parse(served.stdout).result.env.PEERAUTH_UID).toBe(String(process.getuid!()));
      expect(await cli.stop()).toBe(0);
      stopped = true;
      const lines = auditOf(cli, UID);
      expect(lines.map((e) => e.decision)).toEqual(['rejected']);
      expect(lines[0]).toMatchObject({ peerGid: GID });
      expect(String(lines[0]!.reason)).toContain('PEERAUTH_EXEC_UNEXPORTABLE_VALUE');
      // Decided by admission: it knows how long the decision took.
      expect(typeof lines[0]!.durationMs).toBe('number');
      const started = cli
        .stderr()
        .split('\n')
        .filter((l) => l.includes('child started'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(started.length).toBe(1);
      expect(started[0]!.peerUid).toBe(process.getuid!());
    } finally {
      if (!stopped) await cli.stop();
    }
  });

  it('proxy: an identity that cannot be sent as headers gives one rejected line and a 403, never the upstream', async () => {
    const upstream = await startPythonUpstream('httpserver');
    const cli = await startCli(
      ['proxy', '--mode', '0666', '--upstream', upstream.url],
      path.join(dir, 'p.sock'),
      { env: env() },
    );
    let stopped = false;
    try {
      const refused = await run(
        'curl',
        ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', cli.socket, 'http://localhost/x'],
        user,
      );
      const ok = await run('curl', ['-sS', '--unix-socket', cli.socket, 'http://localhost/y']);
      expect(ok.stdout).toBe('ok');
      await waitFor(() => upstream.seen.length === 1);
      expect(upstream.seen.map((r) => r.path)).toEqual(['/y']);
      expect(await cli.stop()).toBe(0);
      stopped = true;
      const lines = auditOf(cli, UID);
      expect(lines.map((e) => e.decision)).toEqual(['rejected']);
      expect(String(lines[0]!.reason)).toContain('cannot be sent as a header');
      expect(typeof lines[0]!.durationMs).toBe('number');
      // Told as every refusal of an HTTP server is: 403 with the class, nothing of the policy.
      expect(refused.stdout).toBe('403');
    } finally {
      if (!stopped) await cli.stop();
      await upstream.close();
    }
  });
});
