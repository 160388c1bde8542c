// The README's HTTP examples listen on /run/myapp/api.sock, which a fresh machine does not have. Run as a
// newcomer would, from a fresh directory standing in for / (so /run is there and /run/myapp is not): the
// node:http program exactly as printed stops with the code the README names, and after the README's one
// line that creates the directory, the same program serves. Only the /run prefix and the service user's
// name change (the test runs as whoever runs it, and `sudo` is not needed for one's own directory).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, curlUnix } from '../../../test-fixtures/readme.js';
import { tempDir } from '../../../test-fixtures/temp-dir.js';
import { ensureDist } from './build-dist.js';

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const README = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');

let root: string;
let work: string;

beforeAll(() => {
  ensureDist();
  // The program imports @peerauth/server as a user would: from a directory inside the package.
  work = fs.mkdtempSync(path.join(PKG, '.readme-'));
  root = tempDir('pa28r-', { mode: 0o755 });
  fs.mkdirSync(path.join(root, 'run'), { mode: 0o755 });
}, 120_000);
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const asWritten = (text: string) => text.replaceAll('/run/', `${root}/run/`);

function run(file: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: work, timeout: 30_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe('the server README: /run/myapp/api.sock', () => {
  it('stops with PEERAUTH_SOCKET_DIRECTORY_MISSING without the directory, and serves after its one setup line', async () => {
    const program = codeBlocks(README).find(
      (b) => b.lang === 'js' && b.code.includes("from 'node:http'") && b.code.includes('/run/myapp/api.sock'),
    );
    expect(program, 'a node:http example on /run/myapp/api.sock').toBeDefined();
    const setup = /`((?:sudo )?install -d -o myapp -m 0755 \/run\/myapp)`/.exec(README.replace(/\n/g, ' '));
    expect(setup, 'the one line that creates /run/myapp').not.toBeNull();
    const file = path.join(work, 'http.mjs');
    fs.writeFileSync(file, asWritten(program!.code));
    const socket = `${root}/run/myapp/api.sock`;

    const missing = await run(process.execPath, [file]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('PEERAUTH_SOCKET_DIRECTORY_MISSING');
    expect(missing.stderr).toContain(`${root}/run/myapp`);

    const line = asWritten(setup![1]!)
      .replace(/^sudo /, '')
      .replace('-o myapp', `-o ${os.userInfo().username}`);
    const [command, ...args] = line.split(' ');
    expect(await run(command!, args)).toEqual({ code: 0, stderr: '' });

    const server = spawn(process.execPath, [file], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    server.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise((resolve) => server.once('exit', resolve));
    try {
      for (let i = 0; !fs.existsSync(socket); i++) {
        if (server.exitCode !== null) throw new Error(`exited ${server.exitCode}: ${stderr}`);
        if (i > 3000) throw new Error(`no socket at ${socket} after 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await curlUnix(socket, '/')).toBe(`hello ${os.userInfo().username}\n`);
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});
