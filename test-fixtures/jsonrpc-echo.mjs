#!/usr/bin/env node
// A stdio JSON-RPC 2.0 program for `peerauth exec` tests: every request line is answered with the
// PEERAUTH_* environment this process was started with, and its own pid.
import readline from 'node:readline';

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PEERAUTH_')));
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let id = null;
  try {
    id = JSON.parse(line).id ?? null;
  } catch {
    process.stdout.write(
      `${JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32700, message: 'parse error' } })}\n`,
    );
    return;
  }
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result: { pid: process.pid, env } })}\n`);
});
rl.on('close', () => process.exit(0));
