// Upstreams that fold header names: PHP (every SAPI folds `.` to `_`) and lighttpd's CGI (every character
// that is not a letter or digit to `_`) turn a client's `X.Peerauth.User` or `X~Peerauth~Role` into the
// stamp's own variable; the client's copy, coming after the stamp, overwrites it, and a stamp the proxy
// leaves out (no person) is simply supplied.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { type RunningCli, startCli, tempDir } from './helpers.js';
import { exchange, statusLines } from './raw-client.js';
import { expectStamps, ownStamps } from './stamps.js';
import { describeWithTools, findTool, type Tool } from './tools.js';
import { type RecordingUpstream, startLighttpdCgiUpstream, startPhpUpstream } from './upstreams.js';

const php = findTool(['php'], ['-v'], 'no php (apt-get install php-cli)');
const lighttpd = findTool(['lighttpd'], ['-v'], 'no lighttpd (apt-get install lighttpd)');
const python = findTool(['python3', '/usr/bin/python3'], ['-c', 'pass'], 'no python3');

// Spellings of identity headers and of the caller-address and client-certificate families that fold to a
// protected name in PHP or CGI.
const FORGED = [
  'X.Peerauth.User: mallory',
  'X~Peerauth~Role: admin',
  'X+Peerauth+Person: boss',
  'X-Peerauth.Uid: 0',
  'X!Peerauth!Spiffe!Id: spiffe://peerauth.local/uid-0',
  'Remote.Groups: admins',
  'X-Remote-Extra.Scopes: all',
  'X.Webauth.Role: Admin',
  'X.Forwarded.Client.Cert: URI=spiffe://a.test/admin',
  'X.Forwarded.For: 10.0.0.1',
  'X.Real.IP: 10.0.0.1',
];

/** `emptyDropped`: the upstream passes no variable for an empty header (lighttpd's CGI). */
function cases(
  name: string,
  tools: Tool[],
  start: () => Promise<RecordingUpstream>,
  emptyDropped = false,
): void {
  describeWithTools(`peerauth proxy: names folded by ${name}`, tools, () => {
    let dir: string;
    let upstream: RecordingUpstream;
    let proxy: RunningCli;
    beforeAll(async () => {
      dir = tempDir('pa23f-');
      upstream = await start();
      proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
    });
    afterAll(async () => {
      await proxy?.stop();
      await upstream?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('no spelling of a protected name reaches the upstream as that name', async () => {
      const answer = await exchange(
        proxy.socket,
        `GET /folded HTTP/1.1\r\nHost: x\r\n${FORGED.join('\r\n')}\r\nConnection: close\r\n\r\n`,
      );
      expect(statusLines(answer)).toEqual(['200']);
      const seen = upstream.seen.filter((r) => r.path === '/folded');
      expect(seen).toHaveLength(1);
      const stamps = Object.entries(ownStamps()).filter(([, v]) => !(emptyDropped && v === ''));
      expectStamps(seen[0]!, Object.fromEntries(stamps));
    });
  });
}

// The expected stamps carry the kernel's group list, read from /proc/self/status (Linux only).
describe.skipIf(!isLinux)('peerauth proxy: folded header names', () => {
  cases('PHP (php -S)', [php], () => startPhpUpstream(php.command!));
  cases(
    'lighttpd CGI',
    [lighttpd, python],
    () => startLighttpdCgiUpstream(lighttpd.command!, python.command!),
    true,
  );
});
