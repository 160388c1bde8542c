// The README's first example must run as printed (only the socket path is swapped for a temp one).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureDist } from './build-dist.js';
import { makeTempDir, removeDir } from './helpers.js';

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let sockDir: string;
let scriptDir: string;

beforeAll(() => {
  ensureDist();
  sockDir = makeTempDir();
  // Inside the repository, so `import '@peerauth/server'` resolves like it does for a user.
  scriptDir = fs.mkdtempSync(path.join(PKG, '.readme-'));
}, 120_000);

afterAll(() => {
  removeDir(sockDir);
  removeDir(scriptDir);
});

it('the five-line example runs and greets the client with its identity', async () => {
  const readme = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  expect(example?.trim().split('\n')).toHaveLength(5);
  const socketPath = path.join(sockDir, 'demo.sock');
  expect(example).toContain('/tmp/peerauth-demo.sock');
  const script = path.join(scriptDir, 'example.mjs');
  fs.writeFileSync(script, example?.replace('/tmp/peerauth-demo.sock', socketPath) ?? '');
  const child = spawn(process.execPath, [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PEERAUTH_LOG_LEVEL: 'silent' },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes(`listening on ${socketPath}`)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`example exited ${code}`)));
    });
    const net = await import('node:net');
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(socketPath);
      let data = '';
      c.on('data', (d) => {
        data += d;
      });
      c.on('close', () => resolve(data));
      c.on('error', reject);
    });
    expect(reply).toMatch(/^hello .+, your role is \S+\n$/);
    // Ctrl-C leaves nothing behind: no socket file, no private directory.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
    expect(fs.readdirSync(sockDir)).toEqual([]);
  } finally {
    child.kill();
  }
});
