#!/usr/bin/env node
// Connects to a Unix socket, sends one JSON-RPC request line, prints the first line it gets back, then
// either disconnects or (with --hold) keeps the connection open until stdin closes.
// Prints "CLOSED" when the server closes (or resets) the connection before answering.
import net from 'node:net';

const [socketPath, ...flags] = process.argv.slice(2);
const hold = flags.includes('--hold');
const sock = net.connect(socketPath);
let buf = '';
let answered = false;
sock.on('connect', () => sock.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'whoami' })}\n`));
sock.on('data', (d) => {
  buf += d;
  const nl = buf.indexOf('\n');
  if (nl >= 0 && !answered) {
    answered = true;
    process.stdout.write(`${buf.slice(0, nl)}\n`);
    if (hold) process.stdin.on('end', () => sock.end()).resume();
    else sock.end();
  }
});
sock.on('close', () => {
  if (!answered) process.stdout.write('CLOSED\n');
  process.exit(0);
});
let connected = false;
sock.on('connect', () => {
  connected = true;
});
// Once connected, a reset or broken pipe is the server refusing us: 'close' follows and says CLOSED.
sock.on('error', (err) => {
  if (connected) return;
  process.stdout.write(`ERROR ${err.code}\n`);
  process.exit(0);
});
