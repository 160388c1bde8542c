// Every js/ts block of the README is type-checked with strict TypeScript and runs as printed (see
// test-fixtures/readme.ts); the resolve example prints exactly the identity shown after it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { checkReadme, codeBlocks } from '../../../test-fixtures/readme.js';

const root = join(import.meta.dirname, '..');
const readme = join(root, 'README.md');

it('every README example type-checks strictly and runs; the resolve example prints the identity shown', async () => {
  const blocks = codeBlocks(readFileSync(readme, 'utf8'));
  const example = blocks.findIndex((b) => b.lang === 'js' && b.code.includes('createResolver(config'));
  const shown = blocks[example + 1];
  expect(shown?.lang).toBe('json');
  await checkReadme({
    readme,
    packageDir: root,
    runs: [
      { kind: 'exits', stdout: (out) => expect(JSON.parse(out)).toEqual(JSON.parse(shown!.code)) },
      // The UserDirectory interface as documented: it must at least compile.
      { kind: 'types' },
      { kind: 'exits', stdout: (out) => expect(out).toBe('public\nundefined\nPEERAUTH_NO_IDENTITY\n') },
      { kind: 'exits', stdout: (out) => expect(out).toBe('example.org\nPEERAUTH_SVID_EMPTY_CHAIN\n') },
      { kind: 'exits', stdout: (out) => expect(out).toBe('x509-svid Deploy bot deployer\n') },
    ],
  });
}, 120_000);
