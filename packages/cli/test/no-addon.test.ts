// Without an addon that reads peer credentials, a serving command must not announce a socket whose every
// connection it would then reset: it refuses to start with the addon's code and the commands that build one.
import fs from 'node:fs';
import path from 'node:path';
import { buildFromSourceCommands } from '@peerauth/core-native';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliToExit, tempDir } from './helpers.js';

let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = tempDir('pa28a-');
  const empty = path.join(dir, 'no-prebuilds');
  fs.mkdirSync(empty);
  // node-gyp-build honours <PACKAGE>_PREBUILD: an empty directory means no addon loads.
  env = { '@PEERAUTH/CORE_NATIVE_PREBUILD': empty };
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('serving commands without a usable addon', () => {
  const socket = () => path.join(dir, 's.sock');
  it.each([
    ['serve', []],
    ['proxy', ['--upstream', 'http://127.0.0.1:9']],
    ['exec', ['--', 'true']],
  ])('%s exits 1 with PEERAUTH_NATIVE_ADDON_MISSING and the build commands', async (command, rest) => {
    const r = await runCliToExit([command, '--socket', socket(), ...rest], 15_000, env);
    expect(r.timedOut, r.stderr).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('listening on');
    expect(r.stderr).toMatch(/^peerauth: PEERAUTH_NATIVE_ADDON_MISSING: /m);
    for (const c of buildFromSourceCommands()) expect(r.stderr).toContain(c);
    expect(fs.existsSync(socket())).toBe(false);
  });
});
