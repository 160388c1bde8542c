#!/usr/bin/env node
// Counts what the test suite leaves behind: `before` records the entries of the temporary directory and
// the processes that belong to this checkout; `after` compares and fails (exit 1) when there are new
// entries in /tmp or processes of this checkout still running, listing each.
//   node scripts/leak-check.mjs before && npm test; node scripts/leak-check.mjs after
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const baseline = path.join(root, '.ci-leak-baseline.json');
const tmp = os.tmpdir();

function tmpEntries() {
  return fs.readdirSync(tmp).sort();
}

/** Processes started from this checkout (their command line names it), other than this one and its parents. */
function processes() {
  const mine = new Set([process.pid, process.ppid]);
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m) => m !== null)
    .map(([, pid, , args]) => ({ pid: Number(pid), args }))
    .filter((p) => !mine.has(p.pid) && p.args.includes(root) && !p.args.includes('leak-check.mjs'));
}

const mode = process.argv[2];
if (mode === 'before') {
  fs.writeFileSync(baseline, JSON.stringify({ tmp: tmpEntries(), pids: processes().map((p) => p.pid) }));
  process.exit(0);
}
if (mode !== 'after') {
  console.error('usage: node scripts/leak-check.mjs before|after');
  process.exit(2);
}
const before = JSON.parse(fs.readFileSync(baseline, 'utf8'));
fs.rmSync(baseline, { force: true });
const knownTmp = new Set(before.tmp);
const knownPids = new Set(before.pids);
const newTmp = tmpEntries().filter((e) => !knownTmp.has(e));
const left = processes().filter((p) => !knownPids.has(p.pid));
console.log(`leak check: ${newTmp.length} new entries in ${tmp}, ${left.length} processes left running`);
for (const e of newTmp) console.log(`  ${path.join(tmp, e)}`);
for (const p of left) console.log(`  pid ${p.pid}: ${p.args}`);
process.exit(newTmp.length || left.length ? 1 : 0);
