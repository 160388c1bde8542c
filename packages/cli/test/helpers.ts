import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = path.join(repoRoot, 'packages/cli/dist/bin.js');
export const fixtures = path.join(repoRoot, 'test-fixtures');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `peerauth` binary to completion. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...opts.env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
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

/** Starts a serving subcommand and waits until it prints that it listens. */
export async function startCli(
  args: string[],
  socket: string,
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<RunningCli> {
  const [command, ...rest] = args;
  // Options go right after the subcommand: for exec, everything after -- belongs to the child.
  const child = spawn(
    process.execPath,
    [bin, command!, '--socket', socket, '--log-format', 'json', ...rest],
    { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env },
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // Other users (setpriv clients) must reach sockets inside it.
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Runs a command, optionally as another user through setpriv, and returns its output and exit code. */
export function run(
  cmd: string,
  args: string[],
  as?: { uid: number; gid: number; groups?: number[] },
): Promise<CliResult> {
  const argv = as
    ? [
        'setpriv',
        [
          '--reuid',
          String(as.uid),
          '--regid',
          String(as.gid),
          ...(as.groups?.length ? ['--groups', as.groups.join(',')] : ['--clear-groups']),
          cmd,
          ...args,
        ],
      ]
    : [cmd, args];
  return new Promise((resolve) => {
    execFile(
      argv[0] as string,
      argv[1] as string[],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
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

export async function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
