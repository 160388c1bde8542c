// currentIdentity() in the socket's later events: the server skips the identity context only for emits that
// run nothing but its own and Node's listeners, so every listener an application adds ('end', 'close'), a
// diagnostics_channel subscriber hearing the closing message, and an application's logger writing the
// closing line still run inside it.
import diagnosticsChannel from 'node:diagnostics_channel';
import { type Identity, tryCurrentIdentity } from '@peerauth/identity';
import { describe, expect, it } from 'vitest';
import { CONNECTION_CHANNEL } from '../src/index.js';
import { silentLogger, waitFor } from './helpers.js';
import { serverPerTest } from './server-per-test.js';

const fixture = serverPerTest();
const start = fixture.start.bind(fixture);

/**
 * Connects and ends once admitted (the server's 'peer' listener writes a byte): the server's socket sees
 * 'end', then (once it ends too) 'close'. Ending earlier could close it before its identity is resolved.
 */
function connectAndEnd(): void {
  const c = fixture.connect();
  c.once('data', () => c.end());
  c.resume();
}

describe.skipIf(process.platform !== 'linux' && process.platform !== 'darwin')(
  'identity context in later socket events (Unix sockets with peer credentials)',
  () => {
    it("an application's 'end' and 'close' listeners run with the connection's identity", async () => {
      const seen: { event: string; same: boolean }[] = [];
      await start({ logger: silentLogger }, (socket, identity) => {
        socket.on('end', () => seen.push({ event: 'end', same: tryCurrentIdentity() === identity }));
        socket.on('close', () => seen.push({ event: 'close', same: tryCurrentIdentity() === identity }));
        socket.resume();
        socket.write('x');
      });
      connectAndEnd();
      await waitFor(() => seen.length === 2);
      expect(seen).toEqual([
        { event: 'end', same: true },
        { event: 'close', same: true },
      ]);
    });

    it("a diagnostics_channel subscriber hears the closing message inside the connection's identity", async () => {
      const closing: boolean[] = [];
      let admitted: Identity | null = null;
      const subscriber = (message: unknown) => {
        const m = message as { decision: string };
        if (m.decision === 'closed') closing.push(admitted !== null && tryCurrentIdentity() === admitted);
      };
      diagnosticsChannel.subscribe(CONNECTION_CHANNEL, subscriber);
      try {
        // No application listener of its events: only the server's own (resume() reads the peer's end).
        await start({ logger: silentLogger }, (socket, identity) => {
          admitted = identity;
          socket.resume();
          socket.write('x');
        });
        connectAndEnd();
        await waitFor(() => closing.length === 1);
        expect(closing).toEqual([true]);
      } finally {
        diagnosticsChannel.unsubscribe(CONNECTION_CHANNEL, subscriber);
      }
    });

    it("an application's logger writes the closing line inside the connection's identity", async () => {
      const closing: boolean[] = [];
      let admitted: Identity | null = null;
      const line = (obj: object) => {
        if ((obj as { decision?: string }).decision === 'closed')
          closing.push(admitted !== null && tryCurrentIdentity() === admitted);
      };
      const logger = { info: line, warn: line, error: line, debug: line };
      await start({ logger }, (socket, identity) => {
        admitted = identity;
        socket.resume();
        socket.write('x');
      });
      connectAndEnd();
      await waitFor(() => closing.length === 1);
      expect(closing).toEqual([true]);
    });
  },
);
