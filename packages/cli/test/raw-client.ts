import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { readableCopy } from '../../../test-fixtures/readable.js';
import { findTool } from '../../../test-fixtures/tools.js';
import { fixtures, setprivArgs } from './helpers.js';

const unixStdio = path.join(fixtures, 'cli/unix-stdio.mjs');

export interface RawClient {
  write(bytes: string | Buffer): void;
  /** Everything the server sent so far. */
  output(): string;
  /** Resolves when the server closed the connection (the client process exited). */
  closed: Promise<void>;
  readonly exited: boolean;
  kill(): void;
}

/**
 * A raw-bytes client on a Unix socket in its own process, run as `as` through setpriv when given: socat
 * where it is installed (a small process: the smuggling tests start dozens at once), else
 * test-fixtures/cli/unix-stdio.mjs, which does the same in Node. Bytes go out exactly as written, so
 * requests no HTTP client library would send can be tried.
 */
export function openRaw(socketPath: string, as?: { uid: number; gid: number; groups?: number[] }): RawClient {
  const socat = findTool('socat');
  // Another user reads the Node script from a world-readable copy: the checkout may be private to its owner.
  const client = socat
    ? [socat, '-t', '0.5', '-', `UNIX-CONNECT:${socketPath}`]
    : [process.execPath, as ? readableCopy(unixStdio) : unixStdio, socketPath];
  const argv = as ? ['setpriv', ...setprivArgs(as), ...client] : client;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (d: string) => {
    out += d;
  });
  child.stdin.on('error', () => {});
  const closed = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    write: (bytes) => {
      child.stdin.write(bytes);
    },
    output: () => out,
    closed,
    get exited() {
      return child.exitCode !== null || child.signalCode !== null;
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Count of HTTP responses in a raw byte stream (status lines). */
export function statusLines(raw: string): string[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => m[1]!);
}

/** Sends bytes in one write from this process and returns all the proxy answered until it closed. */
export function exchange(socketPath: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      out += d;
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(out));
    sock.write(bytes);
    // A failure guard only: every exchange here ends with a request that closes the connection.
    setTimeout(() => sock.destroy(), 15_000).unref();
  });
}
