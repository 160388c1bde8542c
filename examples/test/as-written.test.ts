// The READMEs' shell blocks, run line by line as a newcomer would, with nothing prepared: every /tmp/
// path is moved into a fresh, empty temporary directory (so no directory a line relies on exists unless
// an earlier line or the program creates it), and `npx peerauth` is this checkout's CLI. A line that
// starts a server runs in the background until its socket appears; every other line must exit 0, and a
// client's answer must name this user.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repo = path.dirname(examples);
const peerauthBin = path.join(repo, 'packages/cli/bin/peerauth.js');

let fresh: string;
const servers: ChildProcess[] = [];

afterEach(async () => {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGTERM');
  await Promise.all(
    servers
      .splice(0)
      .map((s) =>
        s.exitCode === null && s.signalCode === null ? new Promise((r) => s.once('exit', r)) : null,
      ),
  );
  fs.rmSync(fresh, { recursive: true, force: true });
});

function shellLines(readme: string): string[] {
  const text = fs.readFileSync(path.join(examples, readme), 'utf8');
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) => b.split('\n')).filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** A line that starts a long-running server: backgrounded, or one of the example servers and the CLI's. */
const isServer = (line: string) =>
  /&\s*$/.test(line) || /^npx peerauth /.test(line) || /app\.mjs /.test(line);

function waitForFile(file: string, server: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (fs.existsSync(file)) return resolve();
      if (server.exitCode !== null) return reject(new Error(`server exited ${server.exitCode}: ${output()}`));
      setTimeout(check, 25);
    };
    check();
  });
}

async function runAsWritten(readme: string): Promise<string[]> {
  fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'pa28e-'));
  fs.chmodSync(fresh, 0o755);
  const answers: string[] = [];
  for (const written of shellLines(readme)) {
    const line = written
      .replaceAll('/tmp/', `${fresh}/`)
      .replace(/^npx peerauth /, `${process.execPath} ${peerauthBin} `)
      .replace(/^node /, `${process.execPath} `)
      .replace(/\s*&\s*$/, '');
    if (isServer(written)) {
      let output = '';
      const server = spawn('sh', ['-c', `exec ${line}`], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
      servers.push(server);
      server.stdout?.on('data', (d) => {
        output += d;
      });
      server.stderr?.on('data', (d) => {
        output += d;
      });
      // The socket a server line makes: its --socket, or the .sock path it is given.
      const socket = (/--socket (\S+)/.exec(line) ?? /(\S+\.sock)\b/.exec(line))?.[1];
      expect(socket, written).toBeDefined();
      await waitForFile(socket as string, server, () => output);
    } else {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('sh', ['-c', line], { cwd: repo, timeout: 60_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${written}\nexited: ${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      if (out.trim() !== '') answers.push(out.trim());
    }
  }
  return answers;
}

describe('examples run as written, from nothing', () => {
  it.each(['express/README.md', 'fastify/README.md', 'mcp/README.md'])('%s', async (readme) => {
    const answers = await runAsWritten(readme);
    expect(answers.length).toBeGreaterThan(0);
    for (const answer of answers) expect(JSON.parse(answer)).toMatchObject({ uid: os.userInfo().uid });
  });
});
