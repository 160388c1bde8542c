#!/usr/bin/env node
// A raw client on a Unix socket, in Node alone (what `socat - UNIX-CONNECT:<socket>` does): stdin goes to
// the socket byte for byte, what the server sends goes to stdout. At the end of stdin it shuts down its
// sending side (a half-close) and keeps printing; it exits when the server ends the connection.
// The stdio command an MCP host launches to reach a server behind `peerauth exec`:
//   node examples/mcp/unix-stdio.mjs <socket>
import net from 'node:net';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: node unix-stdio.mjs <socket>');
  process.exit(2);
}
// allowHalfOpen false (the default): when the server ends, this side ends too and the socket closes.
const sock = net.connect(socketPath);
process.stdin.pipe(sock);
sock.pipe(process.stdout, { end: false });
sock.on('error', (err) => {
  console.error(`unix-stdio: ${socketPath}: ${err.message}`);
  process.exitCode = 1;
});
process.stdin.on('error', () => {});
process.stdout.on('error', () => {});
// stdout may be asynchronous (a pipe on macOS): exit once everything written so far has been flushed.
sock.on('close', () => process.stdout.write('', () => process.exit()));
