// Project rules for the workflows that actionlint cannot know: what the release publishes is what CI tested.
//  - every runner a prebuild is made on also runs the full CI test matrix;
//  - each prebuild job tests the binary before recording its checksum;
//  - the release job verifies those checksums for every target after its last build and before publishing,
//    and never compiles a prebuild of its own;
//  - the root README's platforms table calls a platform prebuilt exactly when the release builds it for it,
//    and every other platform "source only".
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

const VERIFY = 'verify-prebuilds.sh';

export function checkWorkflowPolicy(root) {
  const load = (f) => yaml.load(readFileSync(path.join(root, '.github/workflows', f), 'utf8'));
  const ci = load('ci.yml');
  const release = load('release.yml');
  const problems = [];
  const targets = release.jobs.prebuild.strategy.matrix.include;
  const tested = new Set(ci.jobs.test.strategy.matrix.os);
  for (const { target, os } of targets) {
    if (!tested.has(os))
      problems.push(`release.yml: ${target} is built on ${os}, which ci.yml's test matrix lacks`);
  }

  const runs = (steps) => steps.map((s) => `${s.run ?? ''} ${s.uses ?? ''}`);
  const prebuild = runs(release.jobs.prebuild.steps);
  const testAt = prebuild.findIndex((r) => /npm (run )?test\b/.test(r));
  const sumAt = prebuild.findIndex((r) => /shasum -a 256 .*> ?SHA256SUMS/.test(r));
  if (testAt < 0 || sumAt < testAt)
    problems.push('release.yml prebuild job: record SHA256SUMS after a step that tests the prebuild');

  const steps = runs(release.jobs.release.steps);
  const lastBuild = steps.findLastIndex((r) => /npm run build\b/.test(r));
  const publish = steps.findIndex((r) => r.includes('changesets/action'));
  const verifyAt = steps.findLastIndex((r) => r.includes(VERIFY));
  if (verifyAt < 0 || verifyAt < lastBuild || publish < verifyAt)
    problems.push(`release.yml release job: run ${VERIFY} after the last build and before publishing`);
  else {
    const args = steps[verifyAt].split(VERIFY)[1].trim().split(/\s+/).sort();
    const want = [...new Set(targets.map((t) => t.target))].sort();
    if (args.join() !== want.join())
      problems.push(`release.yml: ${VERIFY} checks ${args}, the matrix builds ${want}`);
  }
  if (steps.some((r) => /prebuildify|build:prebuild/.test(r)))
    problems.push(
      'release.yml release job: compiles a prebuild of its own instead of publishing the tested ones',
    );
  problems.push(...checkPlatformsTable(root, targets));
  problems.push(...checkReleaseTrigger(release));
  return problems;
}

// Publish only what CI passed: the release starts from a completed CI run on main, and its jobs act only
// when that run succeeded, on that run's commit. The jobs' actions are pinned by commit SHA.
function checkReleaseTrigger(release) {
  const problems = [];
  const on = release.on ?? release[true];
  const run = on?.workflow_run;
  if (!run || Object.keys(on).length !== 1)
    problems.push('release.yml: must run only on workflow_run (of CI), not on push or anything else');
  else if (
    !run.workflows?.includes('CI') ||
    !run.types?.includes('completed') ||
    !run.branches?.includes('main')
  )
    problems.push('release.yml: workflow_run must be CI, types [completed], branches [main]');
  for (const [name, job] of Object.entries(release.jobs)) {
    const gated =
      String(job.if ?? '').includes("github.event.workflow_run.conclusion == 'success'") ||
      (job.needs &&
        [job.needs]
          .flat()
          .every(
            (n) => release.jobs[n] && String(release.jobs[n].if ?? '').includes("conclusion == 'success'"),
          ));
    if (!gated)
      problems.push(`release.yml job ${name}: runs without CI's success (if: workflow_run.conclusion)`);
    for (const step of job.steps ?? []) {
      if (step.uses && !/@[0-9a-f]{40}$/.test(step.uses))
        problems.push(`release.yml job ${name}: ${step.uses} is not pinned by commit SHA`);
      if (
        step.uses?.startsWith('actions/checkout') &&
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a JS template
        step.with?.ref !== '${{ github.event.workflow_run.head_sha }}'
      )
        problems.push(
          `release.yml job ${name}: checkout must take the CI run's commit (workflow_run.head_sha)`,
        );
    }
  }
  return problems;
}

const README_PLATFORMS = { Linux: 'linux', macOS: 'darwin', FreeBSD: 'freebsd' };

function checkPlatformsTable(root, targets) {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const problems = [];
  for (const [row, platform] of Object.entries(README_PLATFORMS)) {
    const addon = new RegExp(`^\\| ${row} \\| ([^|]+) \\|`, 'm').exec(readme)?.[1];
    const built = targets.some((t) => t.target.startsWith(`${platform}-`));
    if (!addon) problems.push(`README.md: no row for ${row} in the platforms table`);
    else if (built !== addon.startsWith('prebuilt'))
      problems.push(
        `README.md: ${row} says "${addon}", but the release ${built ? 'does' : 'does not'} build it`,
      );
    else if (!built && !addon.startsWith('source only, not tested in CI'))
      problems.push(`README.md: ${row} has no prebuild and no CI: say "source only, not tested in CI"`);
  }
  return problems;
}
