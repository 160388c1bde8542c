import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONNECTION_CHANNEL,
  type ConnectionMessage,
  createPeerServer,
  type PeerServer,
  type PeerServerOptions,
} from '../src/index.js';
import { makeTempDir, recordingLogger, removeDir, silentLogger, waitFor } from './helpers.js';

const CONFIG = { trustDomain: 'example.org', fallbackRole: 'guest', people: [] };

let dir: string;
let server: PeerServer | null = null;
const clients: net.Socket[] = [];
const messages: ConnectionMessage[] = [];
const subscriber = (message: unknown) => messages.push(message as ConnectionMessage);

beforeEach(() => {
  dir = makeTempDir();
  messages.length = 0;
  diagnosticsChannel.subscribe(CONNECTION_CHANNEL, subscriber);
});

afterEach(async () => {
  diagnosticsChannel.unsubscribe(CONNECTION_CHANNEL, subscriber);
  for (const c of clients.splice(0)) c.destroy();
  const s = server;
  server = null;
  if (s?.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
  removeDir(dir);
});

async function start(options: PeerServerOptions) {
  const peers: net.Socket[] = [];
  const s = createPeerServer({ path: path.join(dir, 's.sock'), identity: CONFIG, ...options }, (socket) => {
    peers.push(socket);
  });
  server = s;
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(() => resolve());
  });
  return { server: s, peers };
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path.join(dir, 's.sock'), () => resolve(c));
    c.on('error', reject);
    clients.push(c);
  });
}

/** An admit hook that admits the first connection and refuses every later one. */
function firstOnly() {
  let n = 0;
  return () => (n++ === 0 ? true : 'closed for maintenance');
}

describe(`diagnostics_channel ${CONNECTION_CHANNEL}`, () => {
  it('has one message per decision, each the audit line with its socket', async () => {
    const log = recordingLogger();
    const { peers } = await start({ logger: log, admit: firstOnly() });
    const admitted = await connect();
    await waitFor(() => peers.length === 1);
    await connect();
    await waitFor(() => messages.length === 2);
    admitted.end();
    await waitFor(() => messages.length === 3);

    expect(messages.map((m) => m.decision)).toEqual(['admitted', 'rejected', 'closed']);
    // The same socket the 'peer' listener got, from the decision to the close.
    expect(messages[0]!.socket).toBe(peers[0]);
    expect(messages[2]!.socket).toBe(peers[0]);
    expect(messages[1]!.socket).toBeInstanceOf(net.Socket);
    expect(messages[1]!.socket).not.toBe(peers[0]);
    expect(messages[1]).toMatchObject({ reason: 'closed for maintenance', peerUid: process.getuid!() });

    // Field for field what the audit trail wrote (its `accepted` is the channel's `admitted`).
    const audit = log.records.filter((r) => r.obj.event === 'peerauth.connection').map((r) => r.obj);
    expect(audit.map((e) => e.decision)).toEqual(['accepted', 'rejected', 'closed']);
    messages.forEach(({ socket: _socket, decision, ...fields }, i) => {
      const { decision: auditDecision, ...auditFields } = audit[i]!;
      expect(decision).toBe(auditDecision === 'accepted' ? 'admitted' : auditDecision);
      expect(fields).toEqual(auditFields);
    });
  });

  it('needs no logger: with audit lines off, a subscriber still hears every decision', async () => {
    const { peers } = await start({ logger: silentLogger, admit: firstOnly() });
    const admitted = await connect();
    await waitFor(() => peers.length === 1);
    await connect();
    await waitFor(() => messages.length === 2);
    admitted.destroy();
    await waitFor(() => messages.length === 3);
    expect(messages.map((m) => [m.decision, m.event, m.auth, m.peerUid])).toEqual([
      ['admitted', 'peerauth.connection', 'unix', process.getuid!()],
      ['rejected', 'peerauth.connection', 'unix', process.getuid!()],
      ['closed', 'peerauth.connection', 'unix', process.getuid!()],
    ]);
    expect(typeof messages[2]!.durationMs).toBe('number');
    expect(typeof messages[2]!.admissionMs).toBe('number');
  });
});
