// The README is the guide; the benchmark's method, figures and where the time goes live in BENCHMARKS.md,
// which the README links to. Every link to the benchmark from the other READMEs leads there.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (file: string) => fs.readFileSync(path.join(pkg, file), 'utf8');

describe('server docs', () => {
  it('the README links to BENCHMARKS.md and carries no benchmark tables', () => {
    const readme = read('README.md');
    expect(readme).toContain('(BENCHMARKS.md)');
    expect(readme).not.toMatch(/^\|.*µs/m);
    expect(readme).not.toContain('## Benchmark');
  });

  it('BENCHMARKS.md has the method, the figures and where the time goes', () => {
    const bench = read('BENCHMARKS.md');
    expect(bench).toContain('npm run bench -w @peerauth/server');
    expect(bench).toMatch(/^\| plain `net.Server`/m);
    expect(bench).toContain('Where the server');
  });

  it("the CLI README's mention of the benchmark points at BENCHMARKS.md", () => {
    const cli = fs.readFileSync(path.join(pkg, '../cli/README.md'), 'utf8');
    expect(cli).not.toContain("server README's benchmark");
    expect(cli).toContain('BENCHMARKS.md');
  });
});
