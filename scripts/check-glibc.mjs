#!/usr/bin/env node
// Fails when a Linux binary needs a glibc symbol version newer than the floor (default 2.28, AlmaLinux 8 /
// RHEL 8, Debian 10, Ubuntu 18.10), read from its version-needs section with `readelf -V`.
// Usage: node scripts/check-glibc.mjs FILE.node... [--max 2.28]
import { execFileSync } from 'node:child_process';

const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const max = maxAt >= 0 ? args.splice(maxAt, 2)[1] : '2.28';
const cmp = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/** The GLIBC_ versions `file` needs, highest first. */
export function glibcNeeds(file) {
  const out = execFileSync('readelf', ['-V', '--wide', file], { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/Name: GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]))].sort((a, b) =>
    cmp(b, a),
  );
}

if (args.length === 0) {
  console.error('usage: node scripts/check-glibc.mjs FILE.node... [--max 2.28]');
  process.exit(2);
}
let failed = 0;
for (const file of args) {
  const needs = glibcNeeds(file);
  const over = needs.filter((v) => cmp(v, max) > 0);
  console.log(`check-glibc: ${file} needs GLIBC_${needs[0] ?? '(none)'} at most (floor ${max})`);
  if (over.length) {
    console.error(
      `check-glibc: ${file} needs ${over.map((v) => `GLIBC_${v}`).join(', ')}, newer than ${max}`,
    );
    failed++;
  }
}
process.exit(failed ? 1 : 0);
