#!/usr/bin/env node
// prepublishOnly: `npm publish` of this package (by hand or by the release) refuses to go on unless
// prebuilds/ holds every binary the release promises, each listed with a matching SHA-256 in a SHA256SUMS*
// file of its directory (written by the release job that tested it), and nothing unlisted.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'prebuilds');
export const REQUIRED = {
  'linux-x64': ['@peerauth+core-native.glibc.node', '@peerauth+core-native.musl.node'],
  'linux-arm64': ['@peerauth+core-native.glibc.node', '@peerauth+core-native.musl.node'],
  'darwin-x64': ['@peerauth+core-native.node'],
  'darwin-arm64': ['@peerauth+core-native.node'],
};

export function checkPrebuilds(root = dir, required = REQUIRED) {
  const problems = [];
  for (const [target, files] of Object.entries(required)) {
    const tdir = path.join(root, target);
    if (!existsSync(tdir)) {
      problems.push(`${target}: no prebuilds/${target}/`);
      continue;
    }
    const sums = new Map();
    for (const f of readdirSync(tdir).filter((f) => f.startsWith('SHA256SUMS')))
      for (const line of readFileSync(path.join(tdir, f), 'utf8').split('\n')) {
        const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
        if (m) sums.set(m[2], m[1]);
      }
    for (const file of files) {
      const p = path.join(tdir, file);
      if (!existsSync(p)) problems.push(`${target}: ${file} is missing`);
      else if (!sums.has(file)) problems.push(`${target}: ${file} has no checksum in a SHA256SUMS file`);
      else if (createHash('sha256').update(readFileSync(p)).digest('hex') !== sums.get(file))
        problems.push(`${target}: ${file} does not match its recorded SHA-256`);
    }
    for (const f of readdirSync(tdir))
      if (!f.startsWith('SHA256SUMS') && !sums.has(f))
        problems.push(`${target}: ${f} is not a tested prebuild`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkPrebuilds();
  for (const p of problems) console.error(`prepublishOnly: ${p}`);
  if (problems.length) {
    console.error('prepublishOnly: refusing to publish @peerauth/core-native without every tested prebuild');
    process.exit(1);
  }
  console.log(`prepublishOnly: ${Object.keys(REQUIRED).length} prebuild targets present and checksummed`);
}
