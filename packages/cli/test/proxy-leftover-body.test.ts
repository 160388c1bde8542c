// An upstream that does not read a body it did not want (Python's http.server and everything built on it)
// parses that body as the next request on the connection, right after it answers: a request the client
// wrote whole, with its own identity headers and no stamps. The proxy asks the upstream to close after
// every request with a body, so there is no next request to make of it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import {
  createTestGroup,
  createTestUser,
  removeTestGroup,
  removeTestUser,
  type TestUser,
} from '../../../test-fixtures/users.js';
import { type RunningCli, startCli, tempDir, waitFor } from './helpers.js';
import { openRaw, statusLines } from './raw-client.js';
import { expectStamps, stampsFor } from './stamps.js';
import { type RecordingUpstream, startPythonUpstream } from './upstreams.js';

const USER = 'pa23-left';
const GROUP = 'pa23-left';
const SMUGGLED =
  'GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Peerauth-User: root\r\nX-Peerauth-Role: owner\r\nX-Peerauth-Uid: 0\r\n\r\n';

describeAsRoot('peerauth proxy: no request is made of a body the upstream left unread', () => {
  let dir: string;
  let attacker: TestUser;
  let upstream: RecordingUpstream;
  let proxy: RunningCli;

  beforeAll(async () => {
    removeTestUser(USER);
    removeTestGroup(GROUP);
    createTestGroup(GROUP, 44030);
    attacker = createTestUser(USER, { uid: 44031, gid: 44030 });
    dir = tempDir('pa23l-');
    upstream = await startPythonUpstream('nodrain');
    proxy = await startCli(['proxy', '--mode', '0666', '--upstream', upstream.url], path.join(dir, 'p.sock'));
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    removeTestUser(USER);
    removeTestGroup(GROUP);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const framings = {
    'Content-Length': `Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    chunked: `Transfer-Encoding: chunked\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
  };
  for (const [name, framed] of Object.entries(framings)) {
    for (const method of ['POST', 'PUT', 'PATCH']) {
      it(`${method}, body framed by ${name}, answered unread: the body never runs as a request`, async () => {
        upstream.seen.length = 0;
        const c = openRaw(proxy.socket, attacker);
        c.write(`${method} /upload HTTP/1.1\r\nHost: x\r\n${framed}`);
        await waitFor(() => statusLines(c.output()).length >= 1);
        // A later request on the same client connection goes up stamped, on a fresh upstream connection.
        c.write('GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        await c.closed;
        expect(statusLines(c.output())).toEqual(['200', '200']);
        // http.server would have parsed the leftover right after answering /upload.
        await new Promise((r) => setTimeout(r, 200));
        const stamps = stampsFor({ ...attacker, username: USER });
        expect(upstream.seen.map((r) => r.path)).toEqual(['/upload', '/after']);
        for (const r of upstream.seen) expectStamps(r, stamps);
      });
    }
  }
});
