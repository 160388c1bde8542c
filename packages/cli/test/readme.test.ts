// The CLI's README and every other README in the repository: js/ts blocks type-check strictly and run
// (test-fixtures/readme.ts; these hold none today, so one added later must come with an entry here), and
// every `peerauth` command line in a shell block names a real subcommand and only flags it accepts. The
// `peerauth resolve 0` example prints what the README shows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReadme, codeBlocks, shellCommands } from '../../../test-fixtures/readme.js';
import { isLinux, isRoot } from '../../../test-fixtures/root.js';
import { repoRoot, runCli } from './helpers.js';

const READMES = [
  'README.md',
  'packages/cli/README.md',
  'packages/core-native/README.md',
  'packages/identity/README.md',
  'packages/server/README.md',
  'examples/README.md',
  'examples/mcp/README.md',
  'examples/express/README.md',
  'examples/fastify/README.md',
  'examples/systemd/README.md',
];

it.each(['packages/cli/README.md', 'README.md'])(
  '%s: every program block type-checks and runs',
  async (readme) => {
    await checkReadme({
      readme: path.join(repoRoot, readme),
      packageDir: path.join(repoRoot, 'packages/cli'),
      runs: [],
    });
  },
);

describe('peerauth command lines in the READMEs', () => {
  const helpOf = new Map<string, Promise<string>>();
  const help = (sub: string) => {
    if (!helpOf.has(sub))
      helpOf.set(
        sub,
        runCli(sub ? [sub, '--help'] : ['--help']).then((r) => r.stdout),
      );
    return helpOf.get(sub)!;
  };

  it.each(READMES)('%s', async (readme) => {
    const commands = shellCommands(fs.readFileSync(path.join(repoRoot, readme), 'utf8'))
      .map((line) => /(?:^|&& )(?:npx )?peerauth (\S+)(.*)$/.exec(line))
      .filter((m) => m !== null);
    for (const [line, sub, rest] of commands) {
      if (sub!.startsWith('-')) {
        expect(await help(''), line).toContain(sub);
        continue;
      }
      expect(await help(''), line).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
      const options = await help(sub!);
      // Flags before a standalone `--` belong to peerauth; after it, to the command peerauth runs.
      const own = rest!.split(' -- ')[0]!;
      for (const flag of own.match(/--[a-z][a-z-]*/g) ?? [])
        expect(options, `${line}: ${flag}`).toMatch(new RegExp(`${flag}(?![a-z-])`));
    }
  });
});

it.skipIf(!(isRoot && isLinux))(
  '`peerauth resolve 0` prints what the README shows (as root, the default config’s owner)',
  async () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'packages/cli/README.md'), 'utf8');
    const block = codeBlocks(readme).find((b) => b.code.startsWith('$ peerauth resolve 0\n'));
    expect(block).toBeDefined();
    const shown = block!.code.split('\n').slice(1);
    const cut = shown.findIndex((l) => l.trim() === '...');
    const r = await runCli(['resolve', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, cut)).toEqual(shown.slice(0, cut));
  },
);
