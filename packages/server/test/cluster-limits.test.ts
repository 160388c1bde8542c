// maxConnectionsPerUid across processes (the CLI's --workers): worker processes lease slots from the
// primary's counts over a real IPC channel and count real connections against them. The limit is exact:
// spare slots one worker keeps are taken back before anyone is refused, never counted twice.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { answerUidCounts, LeasedUidCounts } from '../src/cluster-limits.js';
import { ensureDist } from './build-dist.js';
import { closeServer, listenOn, makeTempDir, removeDir, waitFor } from './helpers.js';

const UID = 4242;
const MAX = 6;

// A worker: its own Unix listener and clients, each accepted socket counted through RemoteUidCounts.
// Commands come over the same IPC channel (without the store's peerauthUid field, which it ignores).
const WORKER = `
import net from 'node:net';
const [entry, sock, max] = process.argv.slice(1);
const { RemoteUidCounts } = await import(entry);
const counts = new RemoteUidCounts(Number(max), process);
const accepted = [];
const server = net.createServer((s) => accepted.push(s));
await new Promise((r) => server.listen(sock, r));
const open = [];
process.on('message', async (m) => {
  if (m.cmd === 'take') {
    const results = [];
    for (let i = 0; i < m.n; i++) {
      const client = net.connect(sock);
      client.on('error', () => {});
      await new Promise((r) => client.once('connect', r));
      while (accepted.length === 0) await new Promise((r) => setImmediate(r));
      const socket = accepted.shift();
      socket.on('error', () => {});
      const refused = await counts.take(socket, m.uid);
      if (refused === null) open.push([client, socket]);
      else client.destroy(), socket.destroy();
      results.push(refused);
    }
    process.send({ results });
  } else if (m.cmd === 'close') {
    for (const [client, socket] of open.splice(0, m.n)) client.destroy(), socket.destroy();
    process.send({ closed: m.n });
  }
});
process.send({ ready: true });
`;

let entry: string;
beforeAll(() => {
  entry = ensureDist();
});

const dirs: string[] = [];
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  for (const c of cleanups.splice(0)) await c();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

interface Worker {
  take(n: number): Promise<(string | null)[]>;
  close(n: number): Promise<void>;
}

async function worker(counts: LeasedUidCounts, dir: string, name: string): Promise<Worker> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', WORKER, entry, path.join(dir, `${name}.sock`), String(MAX)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  children.push(child);
  answerUidCounts(child, counts);
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) => {
      const on = (m: unknown) => {
        if (typeof m !== 'object' || m === null || 'peerauthUid' in m) return;
        child.off('message', on);
        resolve(m as Record<string, unknown>);
      };
      child.on('message', on);
    });
  await next();
  return {
    take: async (n) => {
      const answer = next();
      child.send({ cmd: 'take', n, uid: UID });
      return (await answer).results as (string | null)[];
    },
    close: async (n) => {
      const answer = next();
      child.send({ cmd: 'close', n });
      await answer;
    },
  };
}

/** The primary's own connection: a real accepted socket in this process. */
async function primarySocket(dir: string): Promise<{ socket: net.Socket; end: () => void }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => accepted.push(s));
  await listenOn(server, path.join(dir, `primary-${Math.random().toString(36).slice(2)}.sock`));
  cleanups.push(() => closeServer(server));
  const client = net.connect(server.address() as string);
  client.on('error', () => {});
  await waitFor(() => accepted.length === 1);
  const socket = accepted[0] as net.Socket;
  socket.on('error', () => {});
  return {
    socket,
    end: () => {
      client.destroy();
      socket.destroy();
    },
  };
}

const FULL = `maxConnectionsPerUid (${MAX}) reached: uid ${UID} has ${MAX} connections open`;

describe('per-uid slots leased to worker processes', () => {
  it('spares a worker kept without ever being refused are taken back for another', async () => {
    const dir = makeTempDir('pacl-');
    dirs.push(dir);
    const counts = new LeasedUidCounts(MAX, 3);
    const a = await worker(counts, dir, 'a');
    const b = await worker(counts, dir, 'b');
    // A stays under the limit (no refusal, so no take-back marks its lease), then lets go: its leased
    // slots stay with it as spares.
    expect(await a.take(MAX - 1)).toEqual(Array(MAX - 1).fill(null));
    await a.close(MAX - 1);
    // B gets every slot, the spares A still held among them, and not one more.
    expect(await b.take(MAX + 2)).toEqual([...Array(MAX).fill(null), FULL, FULL]);
    expect(counts.held(UID)).toBe(MAX);
    expect(await a.take(1)).toEqual([FULL]);
  });

  it('spare slots of one worker are taken back for another before anyone is refused; never more than the limit', async () => {
    const dir = makeTempDir('pacl-');
    dirs.push(dir);
    const counts = new LeasedUidCounts(MAX, 3);
    const a = await worker(counts, dir, 'a');
    const b = await worker(counts, dir, 'b');
    // A fills the limit, then lets go: its slots stay with it as spares.
    expect(await a.take(MAX)).toEqual(Array(MAX).fill(null));
    expect(await a.take(1)).toEqual([FULL]);
    await a.close(MAX);
    // B gets every slot (taken back from A), and not one more.
    expect(await b.take(MAX + 2)).toEqual([...Array(MAX).fill(null), FULL, FULL]);
    expect(counts.held(UID)).toBe(MAX);
    // Neither A nor the primary itself gets one while B holds them all.
    expect(await a.take(1)).toEqual([FULL]);
    const own = await primarySocket(dir);
    expect(await counts.take(own.socket, UID)).toBe(FULL);
    own.end();
    // One of B's closes: that slot goes back and serves the primary's own connection.
    await b.close(1);
    await waitFor(() => counts.held(UID) === MAX - 1);
    const own2 = await primarySocket(dir);
    expect(await counts.take(own2.socket, UID)).toBeNull();
    expect(await a.take(1)).toEqual([FULL]);
    own2.end();
    await waitFor(() => counts.held(UID) === MAX - 1);
    expect(await a.take(1)).toEqual([null]);
    expect(counts.held(UID)).toBe(MAX);
  }, 60_000);

  it('a worker hands back the spare slots of a uid that stays idle, and all it held when it ends', async () => {
    const dir = makeTempDir('pacl-');
    dirs.push(dir);
    const counts = new LeasedUidCounts(MAX, 2);
    const a = await worker(counts, dir, 'a');
    expect(await a.take(2)).toEqual([null, null]);
    await a.close(2);
    // Kept as spare for a while, then back with the primary (a few seconds; polled, not timed).
    await waitFor(() => counts.held(UID) === 0, 20_000);
    const b = await worker(counts, dir, 'b');
    expect(await b.take(MAX)).toEqual(Array(MAX).fill(null));
    // B ends with its connections open: the primary frees its slots.
    const child = children[1] as ChildProcess;
    child.kill('SIGKILL');
    await waitFor(() => counts.held(UID) === 0, 20_000);
    expect(await a.take(MAX)).toEqual(Array(MAX).fill(null));
  }, 60_000);
});
