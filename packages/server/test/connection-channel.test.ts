import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONNECTION_CHANNEL, type ConnectionMessage, type PeerServerOptions } from '../src/index.js';
import { recordingLogger, silentLogger, waitFor } from './helpers.js';
import { serverPerTest } from './server-per-test.js';

const fixture = serverPerTest();
const messages: ConnectionMessage[] = [];
const subscriber = (message: unknown) => messages.push(message as ConnectionMessage);

beforeEach(() => {
  messages.length = 0;
  diagnosticsChannel.subscribe(CONNECTION_CHANNEL, subscriber);
});

afterEach(() => {
  diagnosticsChannel.unsubscribe(CONNECTION_CHANNEL, subscriber);
});

async function start(options: PeerServerOptions) {
  const peers: net.Socket[] = [];
  const server = await fixture.start(options, (socket) => {
    peers.push(socket);
  });
  return { server, peers };
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = fixture.connect();
    c.once('connect', () => resolve(c));
    c.once('error', reject);
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
