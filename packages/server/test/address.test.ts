// The socket is bound inside a private directory and linked into place; the private path is gone once
// the link exists, so nothing the server reports may name it.
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPeerServer } from '../src/index.js';
import { makeTempDir, recordingLogger, removeDir } from './helpers.js';

describe('server.address()', () => {
  const dir = makeTempDir();
  afterAll(() => removeDir(dir));

  it('is the public path while listening and in every event, never the private bind path', async () => {
    const socketPath = path.join(dir, 'public.sock');
    const logger = recordingLogger();
    const seen: unknown[] = [];
    const server = createPeerServer({ path: socketPath, logger }, (socket) => {
      seen.push(server.address());
      socket.end('x');
    });
    server.on('listening', () => seen.push(server.address()));
    server.on('close', () => seen.push(server.address()));
    await new Promise<void>((resolve) => server.listen(() => resolve()));
    await new Promise<void>((resolve) => {
      const c = net.connect(socketPath);
      c.resume();
      c.on('close', () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // listening, peer, then close: null once closed, as for any net.Server.
    expect(seen).toEqual([socketPath, socketPath, null]);
    expect(server.address()).toBeNull();
    const mentions = JSON.stringify(logger.records);
    expect(mentions).not.toContain('.pa-');
  });
});
