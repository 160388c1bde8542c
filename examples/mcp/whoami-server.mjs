// The MCP server both transports share: one tool, `whoami`, that answers with the identity peerauth
// established for this caller. The server never decides who is calling; it only reads what peerauth,
// which got it from the kernel, handed over (environment for exec, headers for proxy).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

/**
 * @typedef {{ uid: number, user: string | null, person: string | null, role: string, spiffeId: string }} Caller
 * @param {Caller} caller
 */
export function createWhoamiServer(caller) {
  const server = new McpServer({ name: 'peerauth-whoami', version: '1.0.0' });
  server.registerTool(
    'whoami',
    { title: 'Who am I', description: 'The caller as the kernel and peerauth identified it' },
    async () => ({ content: [{ type: 'text', text: JSON.stringify(caller) }] }),
  );
  return server;
}
