// What the server and CLI benches share: latency histograms, the optional Go and npm `peercred` kinds (built
// here when the tools are present, skipped with a printed reason when not), and the regression guard that
// compares each kind's CPU per unit of work, as a ratio to the plain kind, with the figures in reference.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Latencies in whole µs, counted per value: merged across client processes and rounds, then read as p99. */
export class Histogram {
  counts = new Map();
  add(us, n = 1) {
    const key = Math.max(0, Math.round(us));
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  /** "us:count us:count ..." as load.c prints it, or {us: count} as client.mjs does. */
  merge(source) {
    if (typeof source === 'string') {
      for (const pair of source.trim().split(/\s+/)) {
        if (!pair) continue;
        const [us, n] = pair.split(':').map(Number);
        this.add(us, n);
      }
    } else {
      for (const [us, n] of Object.entries(source)) this.add(Number(us), n);
    }
    return this;
  }
  percentile(p) {
    const keys = [...this.counts.keys()].sort((a, b) => a - b);
    let total = 0;
    for (const k of keys) total += this.counts.get(k);
    let seen = 0;
    for (const k of keys) {
      seen += this.counts.get(k);
      if (seen >= total * p) return k;
    }
    return Number.NaN;
  }
}

export function formatUs(us) {
  if (!Number.isFinite(us)) return '-';
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;
}

/**
 * Builds a Go program of the bench (one file, standard library only) into dir. Resolves with the binary's
 * path, or with null after printing why the kind is skipped.
 */
export function buildGo(source, dir, name) {
  if (process.platform !== 'linux') {
    console.log(`${name}: skipped, its SO_PEERCRED read is Linux-only`);
    return null;
  }
  if (spawnSync('go', ['version']).status !== 0) {
    console.log(`${name}: skipped, no \`go\` on PATH (e.g. apt-get install golang-go)`);
    return null;
  }
  const out = path.join(dir, path.basename(source, '.go'));
  const built = spawnSync('go', ['build', '-o', out, source], {
    encoding: 'utf8',
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
  });
  if (built.status !== 0) {
    console.log(
      `${name}: skipped, go build failed: ${built.stderr.trim().split('\n').slice(-3).join(' / ')}`,
    );
    return null;
  }
  return out;
}

const PEERCRED = 'peercred@1.1.2';

/**
 * The npm `peercred` addon (nan, node-gyp), built once per Node ABI under node_modules/.cache without its
 * install scripts running: `npm pack`, its dependencies installed with --ignore-scripts, then node-gyp from
 * this repository against the running Node's headers. Returns the module's directory, or null after
 * printing why the kind is skipped.
 */
export function buildPeercred() {
  const name = 'npm peercred';
  if (process.platform !== 'linux') {
    console.log(`${name}: skipped, the bench builds it on Linux only`);
    return null;
  }
  const cache = path.join(
    ROOT,
    'node_modules',
    '.cache',
    'peerauth-bench',
    `peercred-abi${process.versions.modules}`,
  );
  const pkg = path.join(cache, 'package');
  // Loaded in a child: an addon built against other headers fails to load, and that is a skip, not a crash.
  const loads = () => spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})`]).status === 0;
  if (fs.existsSync(path.join(pkg, 'build', 'Release', 'binding.node')) && loads()) return pkg;
  // node-gyp downloads headers unless the running Node ships them (a distribution's node does, in
  // <prefix>/include/node; the npm `node` package does not).
  const prefix = path.dirname(path.dirname(process.execPath));
  const nodedir = fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))
    ? [`--nodedir=${prefix}`]
    : [];
  fs.rmSync(cache, { recursive: true, force: true });
  fs.mkdirSync(cache, { recursive: true });
  const steps = [
    ['npm', ['pack', PEERCRED, '--silent', '--pack-destination', cache], cache],
    ['tar', ['xzf', 'peercred-1.1.2.tgz'], cache],
    ['npm', ['install', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--silent'], pkg],
    [
      process.execPath,
      [
        path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
        'rebuild',
        `--target=${process.versions.node}`,
        ...nodedir,
      ],
      pkg,
    ],
  ];
  for (const [cmd, args, cwd] of steps) {
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) {
      const why = `${r.stderr ?? ''}${r.error ?? ''}`.trim().split('\n').slice(-2).join(' / ');
      console.log(`${name}: skipped, \`${path.basename(cmd)} ${args[0]}\` failed: ${why}`);
      fs.rmSync(cache, { recursive: true, force: true });
      return null;
    }
  }
  if (loads()) return pkg;
  console.log(`${name}: skipped, the addon built but does not load in Node ${process.version}`);
  fs.rmSync(cache, { recursive: true, force: true });
  return null;
}

/**
 * The regression guard. reference.json holds, per Node major, each guarded kind's CPU per unit of work as a
 * ratio to the plain kind, as the README's table records it. A Node major without figures is held to the
 * most lenient recorded one. The margin is reference.json's `margin` for a full run, `guardMargin` (generous,
 * for the short run CI makes on a shared machine) when short. Returns the kinds worse than reference x
 * margin, after printing each.
 */
export function guard(referenceFile, cpuRatios, short) {
  const reference = JSON.parse(fs.readFileSync(referenceFile, 'utf8'));
  const margin = short ? reference.guardMargin : reference.margin;
  const major = process.versions.node.split('.')[0];
  const recorded = Object.keys(reference.cpuRatio);
  const figures = reference.cpuRatio[major];
  const byKind = (kind) =>
    figures ? figures[kind] : Math.max(...recorded.map((m) => reference.cpuRatio[m][kind] ?? 0));
  const source = figures
    ? `Node ${major}`
    : `Node ${major} has none: the most lenient of ${recorded.join(', ')}`;
  console.log(
    `\nguard: CPU per unit / plain's, against ${path.relative(ROOT, referenceFile)} (${source}) x ${margin}`,
  );
  const failed = [];
  for (const [kind, ratio] of Object.entries(cpuRatios)) {
    const ref = byKind(kind);
    if (!ref) continue;
    const limit = ref * margin;
    const ok = ratio <= limit;
    if (!ok) failed.push(kind);
    console.log(
      `  ${kind.padEnd(14)} ${ratio.toFixed(2)}  (reference ${ref.toFixed(2)}, limit ${limit.toFixed(2)}): ${ok ? 'ok' : 'WORSE'}`,
    );
  }
  return failed;
}
