// The admit hook is where a command decides everything that could refuse a connection (exec's environment,
// the proxy's identity headers): it gets the socket, so that what it prepares reaches the 'peer' listener,
// and its refusal is the connection's one decision, never counted open.
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPeerServer, type PeerServer } from '../src/index.js';
import { makeTempDir, recordingLogger, removeDir, waitFor } from './helpers.js';

const CONFIG = { trustDomain: 'example.org', fallbackRole: 'guest', people: [] };

let dir: string;
let server: PeerServer | null = null;
const clients: net.Socket[] = [];

beforeEach(() => {
  dir = makeTempDir();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  const s = server;
  server = null;
  if (s?.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
  removeDir(dir);
});

function connect(): net.Socket {
  const c = net.connect(path.join(dir, 's.sock'));
  c.on('error', () => {});
  clients.push(c);
  return c;
}

describe('the admit hook and its socket', () => {
  it("gets the socket the 'peer' listener gets; what it kept under it is there; a refusal is never open", async () => {
    const log = recordingLogger();
    const prepared = new WeakMap<net.Socket, string>();
    let n = 0;
    const s = createPeerServer({
      path: path.join(dir, 's.sock'),
      identity: CONFIG,
      logger: log,
      admit: (identity, _credentials, socket) => {
        if (n++ > 0) return 'cannot prepare this one';
        prepared.set(socket, `for ${identity.role}`);
        return true;
      },
    });
    server = s;
    const seen: (string | undefined)[] = [];
    const openAtRefusal: number[] = [];
    s.on('peer', (socket: net.Socket) => seen.push(prepared.get(socket)));
    s.on('rejected', () => openAtRefusal.push(s.openConnections));
    await new Promise<void>((resolve) => s.listen(() => resolve()));

    connect();
    await waitFor(() => seen.length === 1);
    const refused = connect();
    await new Promise((resolve) => refused.once('close', resolve));
    await waitFor(() => openAtRefusal.length === 1);

    expect(seen).toEqual(['for guest']);
    // Only the admitted connection is open, at the refusal and after it.
    expect(openAtRefusal).toEqual([1]);
    expect(s.openConnections).toBe(1);
    const audit = log.records.filter((r) => r.obj.event === 'peerauth.connection').map((r) => r.obj);
    expect(audit.map((e) => [e.decision, e.reason])).toEqual([
      ['accepted', null],
      ['rejected', 'cannot prepare this one'],
    ]);
  });
});
