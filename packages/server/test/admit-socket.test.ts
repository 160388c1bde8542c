// The admit hook is where a command decides everything that could refuse a connection (exec's environment,
// the proxy's identity headers): it gets the socket, so that what it prepares reaches the 'peer' listener,
// and its refusal is the connection's one decision, never counted open.
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { recordingLogger, waitFor } from './helpers.js';
import { serverPerTest } from './server-per-test.js';

const fixture = serverPerTest();
const connect = fixture.connect.bind(fixture);

describe('the admit hook and its socket', () => {
  it("gets the socket the 'peer' listener gets; what it kept under it is there; a refusal is never open", async () => {
    const log = recordingLogger();
    const prepared = new WeakMap<net.Socket, string>();
    let n = 0;
    const s = await fixture.start({
      logger: log,
      admit: (identity, _credentials, socket) => {
        if (n++ > 0) return 'cannot prepare this one';
        prepared.set(socket, `for ${identity.role}`);
        return true;
      },
    });
    const seen: (string | undefined)[] = [];
    const openAtRefusal: number[] = [];
    s.on('peer', (socket: net.Socket) => seen.push(prepared.get(socket)));
    s.on('rejected', () => openAtRefusal.push(s.openConnections));

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
