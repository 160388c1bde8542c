// A failing test must not leave its processes or temporary directories behind: the shared setup file
// (test-fixtures/cleanup.ts, whose afterAll every file importing it gets) removes what tempDir() made and kills what startCli() started after each file.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = tempDir('pa28c-');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('after a test file whose test failed', () => {
  it('its peerauth serve is gone and its temporary directory removed', async () => {
    const out = path.join(dir, 'leaky.json');
    const r = await new Promise<{ code: number | null; output: string }>((resolve) =>
      execFile(
        process.execPath,
        [path.join(pkg, '../../node_modules/vitest/vitest.mjs'), 'run', '--root', 'test/fixtures/leaky'],
        { cwd: pkg, env: { ...process.env, PEERAUTH_LEAKY_OUT: out }, timeout: 120_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      ),
    );
    expect(r.output).toContain('this test fails on purpose');
    expect(r.code).toBe(1);
    const leaked = JSON.parse(fs.readFileSync(out, 'utf8')) as { pid: number; dir: string };
    expect(alive(leaked.pid)).toBe(false);
    expect(fs.existsSync(leaked.dir)).toBe(false);
  });
});
