// exec children and whatever they start: each child leads its own process group, and that whole group
// goes when its connection does, and at shutdown, however it treats SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { bin, type RunningCli, runCliToExit, startCli, tempDir, waitFor } from './helpers.js';

/** Fields of /proc/PID/stat after the parenthesised name: state, ppid, pgrp...; null once the pid is gone. */
function stat(pid: number): string[] | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

// A killed process whose parent has not reaped it yet is a zombie: it runs no more.
const alive = (pid: number): boolean => {
  const fields = stat(pid);
  return fields !== null && fields[0] !== 'Z';
};
const pgidOf = (pid: number): number => Number(stat(pid)?.[2]);

// The child prints its own pid and the pid of a background sleep, then serves the connection with cat.
const SPAWNS_SLEEP = 'sleep 300 & echo "$$ $!"; exec cat';
// The same, but the whole group ignores SIGTERM (an ignored signal stays ignored across exec).
const IGNORES_TERM = `trap '' TERM; ${SPAWNS_SLEEP}`;

/** Connects and waits for the child's first line: its pid and its background sleep's pid. */
async function connect(socket: string): Promise<{ sock: net.Socket; shell: number; sleep: number }> {
  const sock = net.connect(socket);
  sock.on('error', () => {});
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    sock.on('close', () => reject(new Error(`closed before the child answered: ${JSON.stringify(buf)}`)));
  });
  const [shell, sleep] = line.split(' ').map(Number) as [number, number];
  return { sock, shell, sleep };
}

const leftovers: number[] = [];
const clis: RunningCli[] = [];
const dirs: string[] = [];
function dir(): string {
  const made = tempDir();
  dirs.push(made);
  return made;
}
afterAll(() => {
  // Only if a test failed: nothing of ours keeps running after the suite.
  for (const cli of clis) cli.child.kill('SIGKILL');
  for (const pid of leftovers) if (isLinux && alive(pid)) process.kill(pid, 'SIGKILL');
  for (const made of dirs) fs.rmSync(made, { recursive: true, force: true });
});

async function start(args: string[], script: string): Promise<RunningCli> {
  const cli = await startCli(['exec', ...args, '--', 'sh', '-c', script], path.join(dir(), 'e.sock'));
  clis.push(cli);
  return cli;
}

// Process state and groups are read from /proc/PID/stat, which only Linux has.
describe.skipIf(!isLinux)('peerauth exec: process groups', () => {
  it('each child leads its own process group, and the group goes when its client disconnects', async () => {
    const cli = await start([], SPAWNS_SLEEP);
    const { sock, shell, sleep } = await connect(cli.socket);
    leftovers.push(sleep);
    expect(pgidOf(shell)).toBe(shell);
    expect(pgidOf(sleep)).toBe(shell);
    expect(pgidOf(cli.child.pid!)).not.toBe(shell);
    sock.destroy();
    await waitFor(() => !alive(sleep));
    expect(await cli.stop()).toBe(0);
  });

  it('a client that half-closes: the child ends on EOF and its background processes go with it', async () => {
    const cli = await start([], SPAWNS_SLEEP);
    const { sock, sleep } = await connect(cli.socket);
    leftovers.push(sleep);
    const closed = new Promise((resolve) => sock.once('close', resolve));
    sock.end();
    await closed;
    await waitFor(() => !alive(sleep));
    expect(await cli.stop()).toBe(0);
  });

  /** The client disconnects abruptly: the child and its background sleep must both go. */
  async function disconnectEndsGroup(script: string): Promise<void> {
    const cli = await start([], script);
    const { sock, shell, sleep } = await connect(cli.socket);
    leftovers.push(shell, sleep);
    sock.destroy();
    await waitFor(() => !alive(sleep) && !alive(shell));
    expect(await cli.stop()).toBe(0);
  }

  it('a child that never reads stdin: the group goes once a write to the gone client fails', async () => {
    await disconnectEndsGroup('sleep 300 & echo "$$ $!"; while :; do echo tick; sleep 0.2; done');
  });

  it('on disconnect a group that ignores SIGTERM is killed after the grace period', async () => {
    await disconnectEndsGroup(IGNORES_TERM);
  });

  it('shutdown ends, exit 0, while a connection is open and its whole group ignores SIGTERM', async () => {
    const cli = await start(['--drain-timeout', '200'], IGNORES_TERM);
    const { sleep } = await connect(cli.socket);
    leftovers.push(sleep);
    // Without the group kill, the server waits on the sleep (which holds the child's stdout) for 300 s:
    // the test's timeout is the guard.
    expect(await cli.stop()).toBe(0);
    expect(fs.existsSync(cli.socket)).toBe(false);
    await waitFor(() => !alive(sleep));
  }, 30_000);

  it("shutdown ends, exit 0, even while a process that left the group holds the child's stdout", async () => {
    // setsid puts the sleep out of the group's reach; it keeps the stdout pipe open.
    const cli = await start(['--drain-timeout', '200'], 'setsid sleep 300 & echo "$$ $!"; exec cat');
    const { sleep } = await connect(cli.socket);
    leftovers.push(sleep);
    expect(await cli.stop()).toBe(0);
    expect(fs.existsSync(cli.socket)).toBe(false);
  }, 30_000);
});

// A descendant that made its own process group or session is out of the group's reach: the server, as
// subreaper, still finds it (Linux), ends it with its connection, and keeps its slot until it is gone.
describe.skipIf(process.platform !== 'linux')(
  'peerauth exec: descendants in their own group or session (Linux subreaper)',
  () => {
    const escapes: [string, string][] = [
      ['a job of a shell with job control (set -m)', `bash -c 'set -m; sleep 300 & echo "$$ $!"; exec cat'`],
      ['a process in a session of its own (setsid)', 'setsid sleep 300 & echo "$$ $!"; exec cat'],
      ['coreutils timeout (its own process group)', 'timeout 300 sleep 300 & echo "$$ $!"; exec cat'],
    ];
    for (const [what, script] of escapes) {
      it(`${what} ends when its client disconnects`, async () => {
        const cli = await start([], script);
        const { sock, sleep } = await connect(cli.socket);
        leftovers.push(sleep);
        expect(pgidOf(sleep)).not.toBe(pgidOf(cli.child.pid!));
        sock.destroy();
        await waitFor(() => !alive(sleep));
        expect(await cli.stop()).toBe(0);
      });
    }

    it('ends at shutdown, and a --max-children slot stays taken until the last descendant is gone', async () => {
      // The child exits once the client sends a line; what it left ignores SIGTERM in a session of its own.
      const cli = await start(
        ['--max-children', '1', '--drain-timeout', '200'],
        `setsid sh -c 'trap "" TERM; echo $$; exec sleep 300' &`,
      );
      // Retried: a first connection refused while the server warms up is no part of this test.
      let opened: Awaited<ReturnType<typeof connect>> | null = null;
      await waitFor(async () => {
        opened = await connect(cli.socket).catch(() => null);
        return opened !== null;
      });
      const { sock: first, shell: left } = opened!;
      leftovers.push(left);
      // The child exits; the slot is still taken while what it left lives (2 s of SIGTERM grace).
      first.write('\n');
      await waitFor(() => cli.stderr().includes('child exited'));
      const second = await connect(cli.socket).catch((err: Error) => err);
      if (alive(left)) {
        expect(second).toBeInstanceOf(Error);
        await waitFor(() => cli.stderr().includes('max-children (1) reached'));
      }
      await waitFor(() => !alive(left));
      // Gone (the next scan of the descendants frees the slot): a connection is served again.
      let third: Awaited<ReturnType<typeof connect>> | null = null;
      await waitFor(async () => {
        third = await connect(cli.socket).catch(() => null);
        return third !== null;
      });
      leftovers.push(third!.shell);
      third!.sock.destroy();
      first.destroy();
      expect(await cli.stop()).toBe(0);
    }, 30_000);

    it('a descendant still running at shutdown is ended with the server', async () => {
      const cli = await start(['--drain-timeout', '200'], 'setsid sleep 300 & echo "$$ $!"; exec cat');
      const { sleep } = await connect(cli.socket);
      leftovers.push(sleep);
      expect(await cli.stop()).toBe(0);
      await waitFor(() => !alive(sleep));
    }, 30_000);
  },
);

describe('peerauth exec: a command that cannot run', () => {
  const cases: [string, (dir: string) => string[]][] = [
    ['an absolute path that does not exist', () => ['/no/such/cmd']],
    ['a name found nowhere on PATH', () => ['pa10e-no-such-command', '--flag']],
    [
      'a file that is not executable',
      (dir) => {
        const file = path.join(dir, 'not-executable');
        fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
        return [file];
      },
    ],
    ['a directory', (dir) => [dir]],
  ];
  for (const [what, make] of cases) {
    it(`${what}: exit 1 at start, naming the command, no socket left`, async () => {
      const made = dir();
      const socket = path.join(made, 'e.sock');
      const command = make(made);
      const r = await runCliToExit(['exec', '--socket', socket, '--', ...command]);
      expect(r.timedOut, r.stderr).toBeUndefined();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(command[0]!);
      expect(r.stdout).not.toContain('listening');
      expect(fs.existsSync(socket)).toBe(false);
    });
  }

  it('a command found on PATH starts', async () => {
    const child = spawn(process.execPath, [bin, 'exec', '--socket', path.join(dir(), 'e.sock'), '--', 'cat']);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await waitFor(() => out.includes('listening'));
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });
});
