// One peerauth server per test on a socket in a fresh private directory, and the clients the test opened:
// after each test, whatever it left (a failed assertion included), the clients are destroyed, the server is
// closed and the directory removed. Call at the top of a test file or describe: it registers the hooks.
import net from 'node:net';
import path from 'node:path';
import type { Identity } from '@peerauth/identity';
import { afterEach, beforeEach } from 'vitest';
import { createPeerServer, type PeerServer, type PeerServerOptions } from '../src/index.js';
import { makeTempDir, removeDir } from './helpers.js';

const CONFIG = { trustDomain: 'example.org', fallbackRole: 'guest', people: [] };

export interface ServerPerTest {
  /** The socket the server listens on, in this test's directory. */
  readonly socketPath: string;
  /** Creates the server (the options win over the socket path and a guest-only identity config) and listens. */
  start(
    options?: PeerServerOptions,
    onPeer?: (socket: net.Socket, identity: Identity) => void,
  ): Promise<PeerServer>;
  /** A client of the server, its errors ignored (a refusal may reset it), destroyed after the test. */
  connect(): net.Socket;
}

export function serverPerTest(): ServerPerTest {
  let dir = '';
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
  return {
    get socketPath() {
      return path.join(dir, 's.sock');
    },
    async start(options = {}, onPeer) {
      const s = createPeerServer({ path: this.socketPath, identity: CONFIG, ...options }, onPeer);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(() => resolve());
      });
      return s;
    },
    connect() {
      const c = net.connect(this.socketPath);
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
  };
}
