// The CLI's README and the repository's: every js/ts block type-checks strictly and runs (see
// test-fixtures/readme.ts). Both hold shell and JSON only today; a program block added later must come
// with an entry here, or this fails.
import path from 'node:path';
import { it } from 'vitest';
import { checkReadme } from '../../../test-fixtures/readme.js';
import { repoRoot } from './helpers.js';

it.each([
  ['packages/cli/README.md', 'packages/cli'],
  ['README.md', 'packages/cli'],
])('%s: every program block type-checks and runs', async (readme, dir) => {
  await checkReadme({ readme: path.join(repoRoot, readme), packageDir: path.join(repoRoot, dir), runs: [] });
});
