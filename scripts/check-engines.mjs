#!/usr/bin/env node
// Every workspace declares the same Node range, and every package the lockfile installs on this platform
// accepts the lowest version of each Node line that range admits (and the running Node): otherwise `npm ci`
// prints EBADENGINE there, or a dependency relies on features our range promises without. Run after `npm ci`.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (file) => JSON.parse(readFileSync(path.join(root, file), 'utf8'));
const rootPkg = read('package.json');
const range = rootPkg.engines.node;
const problems = [];

for (const ws of rootPkg.workspaces) {
  const engines = read(path.join(ws, 'package.json')).engines?.node;
  if (engines !== range) problems.push(`${ws}: engines.node is "${engines}", the root says "${range}"`);
}

// The lowest version of each line the range admits (20.19.0, 22.12.0, ...) and the next even majors.
const lows = new semver.Range(range).set.map(
  (comparators) => semver.minVersion(comparators.map(String).join(' ')).version,
);
const versions = [...new Set([...lows, '24.0.0', process.versions.node])].filter((v) =>
  semver.satisfies(v, range),
);

for (const [where, entry] of Object.entries(read('package-lock.json').packages)) {
  const wanted = entry.engines?.node;
  if (!where || !wanted || entry.link) continue;
  // Optional packages for other platforms (wasm32 bindings and theirs) are not installed, so never warn.
  if (entry.optional && !existsSync(path.join(root, where))) continue;
  const refused = versions.filter((v) => !semver.satisfies(v, wanted));
  if (refused.length) problems.push(`${where} requires node "${wanted}": refuses ${refused.join(', ')}`);
}

for (const p of problems) console.error(`check-engines: ${p}`);
console.log(`check-engines: node "${range}" (checked ${versions.join(', ')}): ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
