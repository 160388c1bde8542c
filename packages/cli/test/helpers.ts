import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAfterFile } from '../../../test-fixtures/cleanup.js';
import { runCommand } from '../../../test-fixtures/run.js';
import { tempDir as sharedTempDir } from '../../../test-fixtures/temp-dir.js';

export { waitFor } from '../../../test-fixtures/wait-for.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = path.join(repoRoot, 'packages/cli/dist/bin.js');
export const fixtures = path.join(repoRoot, 'test-fixtures');

export interface CliResult {
  code: number | null;
  /** Set when runCli's guard killed the command. */
  signal?: NodeJS.Signals;
  /**
   * Set when runCliToExit's guard stopped a command that did not exit by itself: `code` is then how it
   * ended after the guard's SIGTERM (a server drains and exits), not an answer of its own.
   */
  timedOut?: true;
  stdout: string;
  stderr: string;
}

/**
 * How long runCli waits for the command to exit before it kills it (SIGKILL): generous for commands that
 * exit in well under a second, and below the test timeout (30 s), so a hung command fails its test with
 * a result that says so rather than leaving a child behind a timed-out test.
 */
export const RUN_CLI_GUARD_MS = 20_000;

/**
 * Runs the built `peerauth` binary to completion. A command still running after `guardMs` is killed with
 * SIGKILL (no drain to wait for): its result has code null, signal SIGKILL, and a last stderr line naming
 * the guard. The child is also killed after the test file, should the test time out first.
 */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; guardMs?: number } = {},
): Promise<CliResult> {
  const guardMs = opts.guardMs ?? RUN_CLI_GUARD_MS;
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...opts.env }, timeout: guardMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if ((err as { killed?: boolean } | null)?.killed && child.signalCode === 'SIGKILL')
          resolve({
            code: null,
            signal: 'SIGKILL',
            stdout,
            stderr: `${stderr}[runCli: still running after ${guardMs} ms; killed]\n`,
          });
        else resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    killAfterFile(child);
  });
}

export interface RunningCli {
  child: ChildProcess;
  socket: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * Starts a serving subcommand and waits until it prints that it listens. `prefix` runs it through another
 * command (which must exec it, so signals reach peerauth), e.g. unshare; `env` replaces its environment.
 */
export async function startCli(
  args: string[],
  socket: string,
  opts: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningCli> {
  const [command, ...rest] = args;
  // Options go right after the subcommand: for exec, everything after -- belongs to the child.
  const argv = [process.execPath, bin, command!, '--socket', socket, '--log-format', 'json', ...rest];
  const [file, ...fileArgs] = [...(opts.prefix ?? []), ...argv] as [string, ...string[]];
  // Killed after the test file if the test never stopped it (a failed or timed-out test).
  const child = killAfterFile(
    spawn(file, fileArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: opts.env } : {}),
    }),
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes('listening on')) resolve();
      else setTimeout(check, 20);
    };
    check();
    exited.then((code) => reject(new Error(`peerauth exited (${code}) before listening: ${err}`)));
  });
  return {
    child,
    socket,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export function tempDir(prefix = 'pacli-'): string {
  // Other users (setpriv clients) must reach sockets inside it.
  return sharedTempDir(prefix, { mode: 0o755 });
}

/** setpriv's options to run a command as `as`, with exactly its groups. */
export function setprivArgs(as: { uid: number; gid: number; groups?: number[] }): string[] {
  return [
    '--reuid',
    String(as.uid),
    '--regid',
    String(as.gid),
    ...(as.groups?.length ? ['--groups', as.groups.join(',')] : ['--clear-groups']),
  ];
}

/** Runs a command, optionally as another user through setpriv, and returns its output and exit code. */
export async function run(
  cmd: string,
  args: string[],
  as?: { uid: number; gid: number; groups?: number[] },
): Promise<CliResult> {
  const r = as
    ? await runCommand('setpriv', [...setprivArgs(as), cmd, ...args])
    : await runCommand(cmd, args);
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export async function curlJson(
  socket: string,
  urlPath: string,
  as?: { uid: number; gid: number; groups?: number[] },
) {
  const r = await run('curl', ['-sS', '--unix-socket', socket, `http://localhost${urlPath}`], as);
  if (r.code !== 0) throw new Error(`curl failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** The HTTP status code curl gets for a path on the socket ('000' when the connection was closed). */
export async function curlStatus(socket: string, urlPath: string): Promise<string> {
  const r = await run('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--unix-socket',
    socket,
    `http://localhost${urlPath}`,
  ]);
  return r.stdout;
}

export function writeConfig(dir: string, config: unknown): string {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/**
 * Runs the built `peerauth` binary expecting it to exit on its own. A command still running after `guardMs`
 * (a server that started instead) gets SIGTERM: its result has `timedOut` and a last stderr line naming the
 * guard, so a test expecting a failing exit can tell that exit from the guard's. Its own timer, not
 * execFile's `timeout`: a server that exits 0 after SIGTERM leaves execFile no error to flag the kill on.
 */
export function runCliToExit(args: string[], guardMs = 15_000, env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    let timedOut = false;
    const child = execFile(
      process.execPath,
      [bin, ...args],
      env ? { env: { ...process.env, ...env } } : {},
      (err, stdout, stderr) => {
        clearTimeout(guard);
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        if (timedOut)
          resolve({
            code,
            timedOut: true,
            stdout,
            stderr: `${stderr}[runCliToExit: still running after ${guardMs} ms; stopped with SIGTERM]\n`,
          });
        else resolve({ code, stdout, stderr });
      },
    );
    const guard = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, guardMs);
    killAfterFile(child);
  });
}

/** Opens `n` connections one after another, sends nothing, prints "held" and keeps them until killed. */
export const HOLDER = `
const net = require('node:net');
const [socket, n] = process.argv.slice(1);
const held = [];
(async () => {
  for (let i = 0; i < Number(n); i++) {
    await new Promise((resolve) => {
      const s = net.connect(socket, resolve);
      s.on('error', resolve);
      held.push(s);
    });
  }
  process.stdout.write('held\\n');
})();
setInterval(() => {}, 1000);
`;
