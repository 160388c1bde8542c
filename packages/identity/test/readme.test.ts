// The README's resolve example must run and print exactly what the README says it prints.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = join(import.meta.dirname, '..');
let dir: string | undefined;

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function blockAfter(text: string, from: number, lang: string): { code: string; end: number } {
  const open = text.indexOf(`\`\`\`${lang}\n`, from);
  expect(open, `a \`\`\`${lang} block`).toBeGreaterThan(-1);
  const start = open + lang.length + 4;
  const close = text.indexOf('\n```', start);
  return { code: text.slice(start, close + 1), end: close + 4 };
}

describe('README', () => {
  it('the resolve example prints the identity shown', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const marker = readme.indexOf('test/readme.test.ts');
    expect(marker).toBeGreaterThan(-1);
    const example = blockAfter(readme, marker, 'js');
    const shown = blockAfter(readme, example.end, 'json');
    expect(example.code).toContain("from '@peerauth/identity'");
    const source = example.code.replace("'@peerauth/identity'", JSON.stringify(join(root, 'src/index.ts')));
    dir = await mkdtemp(join(tmpdir(), 'peerauth-readme-'));
    const file = join(dir, 'example.mjs');
    await writeFile(file, source);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(file);
      expect(log).toHaveBeenCalledTimes(1);
      expect(JSON.parse(String(log.mock.calls[0]![0]))).toEqual(JSON.parse(shown.code));
    } finally {
      log.mockRestore();
    }
  });
});
