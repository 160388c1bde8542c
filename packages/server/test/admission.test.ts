import net from 'node:net';
import path from 'node:path';
import type { Identity } from '@peerauth/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPeerServer,
  InvalidServerOptionError,
  type PeerServer,
  type PeerServerOptions,
  type RejectedEvent,
} from '../src/index.js';
import { makeTempDir, recordingLogger, removeDir, silentLogger, waitFor } from './helpers.js';

const CONFIG = { trustDomain: 'example.org', fallbackRole: 'guest', people: [] };

let dir: string;
const open: PeerServer[] = [];
const clients: net.Socket[] = [];

beforeEach(() => {
  dir = makeTempDir();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(
    open
      .splice(0)
      .map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
  );
  removeDir(dir);
});

/** A listening server that records every decision: 'peer' sockets are kept open until the test ends. */
async function start(options: PeerServerOptions) {
  const log = recordingLogger();
  const peers: net.Socket[] = [];
  const rejected: RejectedEvent[] = [];
  const server = createPeerServer(
    { path: path.join(dir, 's.sock'), identity: CONFIG, logger: log, ...options },
    (socket) => {
      peers.push(socket);
    },
  );
  server.on('rejected', (event) => rejected.push(event));
  open.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(() => resolve());
  });
  const audit = () => log.records.filter((r) => r.obj.event === 'peerauth.connection').map((r) => r.obj);
  return { server, peers, rejected, audit, socketPath: path.join(dir, 's.sock') };
}

/** Connects and resolves once connected; the socket stays open (closed by the test or afterEach). */
function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath, () => resolve(c));
    c.on('error', reject);
    clients.push(c);
  });
}

/** Resolves when the server side has closed the client's connection. */
function closedByServer(client: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (client.destroyed) return resolve();
    client.once('close', () => resolve());
    client.resume();
  });
}

describe('maxConnections', () => {
  it('refuses a connection over the limit with one rejected decision naming the limit, and admits again once one closes', async () => {
    const s = await start({ maxConnections: 2 });
    const first = await connect(s.socketPath);
    await connect(s.socketPath);
    await waitFor(() => s.peers.length === 2);

    const third = await connect(s.socketPath);
    await closedByServer(third);
    await waitFor(() => s.rejected.length === 1);
    expect(s.rejected[0]!.reason).toBe('maxConnections (2) reached: 2 admitted connections are open');
    expect(s.rejected[0]!.identity?.role).toBe('guest');
    const refusedLines = s.audit().filter((e) => e.peerPid === process.pid && e.decision !== 'accepted');
    expect(refusedLines.map((e) => e.decision)).toEqual(['rejected']);
    expect(refusedLines[0]).toMatchObject({ reason: s.rejected[0]!.reason, role: 'guest' });

    first.destroy();
    await waitFor(() => s.audit().some((e) => e.decision === 'closed'));
    await connect(s.socketPath);
    await waitFor(() => s.peers.length === 3);
    expect(s.rejected).toHaveLength(1);
  });

  it('is a whole number >= 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '3'])
      expect(() => createPeerServer({ logger: silentLogger, maxConnections: bad as number })).toThrow(
        InvalidServerOptionError,
      );
    try {
      createPeerServer({ logger: silentLogger, maxConnections: 0 });
    } catch (err) {
      expect(err).toMatchObject({ code: 'PEERAUTH_INVALID_SERVER_OPTION', option: 'maxConnections' });
      expect((err as Error).message).toContain('maxConnections 0');
    }
  });
});

describe('the admit hook', () => {
  it('is asked with the identity and credentials; true admits, a string refuses with that reason', async () => {
    const asked: { identity: Identity; uid: number }[] = [];
    let answer: true | string = true;
    const s = await start({
      admit: (identity, credentials) => {
        asked.push({ identity, uid: credentials?.uid ?? -1 });
        return answer;
      },
    });
    await connect(s.socketPath);
    await waitFor(() => s.peers.length === 1);
    answer = 'closed for maintenance';
    const refused = await connect(s.socketPath);
    await closedByServer(refused);
    await waitFor(() => s.rejected.length === 1);

    expect(asked.map((a) => a.uid)).toEqual([process.getuid!(), process.getuid!()]);
    expect(asked[0]!.identity.role).toBe('guest');
    expect(s.rejected[0]).toMatchObject({ reason: 'closed for maintenance', identity: { role: 'guest' } });
    expect(s.audit().map((e) => e.decision)).toEqual(['accepted', 'rejected']);
    expect(s.audit()[1]).toMatchObject({ reason: 'closed for maintenance', peerUid: process.getuid!() });
  });

  it('fails closed: a hook that throws or answers anything but true or a reason refuses', async () => {
    const answers: unknown[] = [false, '', undefined, 1];
    let i = 0;
    const s = await start({
      admit: () => {
        if (i === answers.length) throw new Error('hook bug');
        return answers[i++] as string;
      },
    });
    for (let n = 0; n <= answers.length; n++) await closedByServer(await connect(s.socketPath));
    await waitFor(() => s.rejected.length === answers.length + 1);
    expect(s.peers).toHaveLength(0);
    expect(s.rejected.map((e) => e.reason)).toEqual([
      'admit hook refused (returned false)',
      'admit hook refused (returned an empty string)',
      'admit hook refused (returned undefined)',
      'admit hook refused (returned 1)',
      'admit hook failed (ERROR: hook bug)',
    ]);
    expect(s.audit().every((e) => e.decision === 'rejected')).toBe(true);
  });

  it('runs after allowRoles: a role refused there never reaches the hook', async () => {
    let asked = 0;
    const s = await start({
      allowRoles: ['admin'],
      admit: () => {
        asked++;
        return true;
      },
    });
    await closedByServer(await connect(s.socketPath));
    await waitFor(() => s.rejected.length === 1);
    expect(asked).toBe(0);
    expect(s.rejected[0]!.reason).toBe('role "guest" is not in allowRoles');
  });

  it('must be a function', () => {
    expect(() => createPeerServer({ logger: silentLogger, admit: 'yes' as never })).toThrow(
      InvalidServerOptionError,
    );
  });
});

describe('one decision per connection', () => {
  it('every connection gets exactly one of peer or rejected, and one audit decision line', async () => {
    let n = 0;
    const s = await start({ maxConnections: 5, admit: () => (n++ % 3 === 0 ? 'every third' : true) });
    const count = 12;
    const sockets = await Promise.all(Array.from({ length: count }, () => connect(s.socketPath)));
    await waitFor(() => s.peers.length + s.rejected.length === count);
    expect(s.peers.length).toBeLessThanOrEqual(5);
    expect(s.rejected.length).toBe(count - s.peers.length);
    const decisions = s.audit().filter((e) => e.decision !== 'closed');
    expect(decisions).toHaveLength(count);
    expect(decisions.filter((e) => e.decision === 'accepted')).toHaveLength(s.peers.length);
    for (const c of sockets) c.destroy();
  });
});
