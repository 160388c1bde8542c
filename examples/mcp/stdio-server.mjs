// Behind `peerauth exec`: one process per connection, the socket on stdin/stdout, and the caller's identity
// in PEERAUTH_* variables set by peerauth (a client cannot set them: it only reaches the socket).
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createWhoamiServer } from './whoami-server.mjs';

const env = process.env;
if (env.PEERAUTH_UID === undefined || env.PEERAUTH_ROLE === undefined) {
  console.error('stdio-server.mjs: run me behind `peerauth exec`, which sets PEERAUTH_UID and PEERAUTH_ROLE');
  process.exit(1);
}
const server = createWhoamiServer({
  uid: Number(env.PEERAUTH_UID),
  user: env.PEERAUTH_USER || null,
  person: env.PEERAUTH_PERSON || null,
  role: env.PEERAUTH_ROLE,
  spiffeId: env.PEERAUTH_SPIFFE_ID ?? '',
});
await server.connect(new StdioServerTransport());
