#!/usr/bin/env node
// CI runs the whole suite on macOS too, so a test may read /proc or run a Linux-only tool (setpriv, unshare,
// getent, GNU timeout, useradd, newuidmap, ...) only inside a guard that skips it elsewhere:
//   - describeAsRoot(...) from test-fixtures/root.ts (root on Linux, prints its reason), or
//   - describe/it/test .skipIf(...) / .runIf(...) whose condition tests the platform (isLinux,
//     process.platform, asRoot...), with a comment on or just above it saying why, or
//   - an if, ?: or && on such a condition.
// A named function (in a test or a helper module) that does such a thing outside a guard is Linux-only
// itself: every call to it must then be guarded. Code that runs when a module loads is checked as well.
// Part of `npm run lint`; exits 1 with file:line for each unguarded use.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['packages/*/test', 'examples/test', 'test-fixtures'];
export const LINUX_TOOLS = [
  'setpriv',
  'unshare',
  'nsenter',
  'getent',
  'timeout',
  'useradd',
  'userdel',
  'usermod',
  'groupadd',
  'groupdel',
  'newuidmap',
  'newgidmap',
  'runuser',
  'prlimit',
  'taskset',
  'systemd-run',
];
const TOOL_RE = new RegExp(`^(?:${LINUX_TOOLS.join('|')})(?:\\s|$)`);
const PLATFORM_CONDITION = /linux|isRoot|asRoot|process\.platform|pidfd/i;
const GUARD_CALL = /^(?:describe|it|test)(?:\.\w+)*\.(?:skipIf|runIf)$/;
const ROOT_GUARD = /^describeAsRoot$/;

function listFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(?:[cm]?ts|[cm]?js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const pattern of DIRS) {
    const [base, rest] = pattern.split('/*/');
    const bases = rest
      ? readdirSync(path.join(root, base)).map((d) => path.join(root, base, d, rest))
      : [path.join(root, pattern)];
    for (const b of bases) {
      try {
        walk(b);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
    }
  }
  return out;
}

/** What makes `node` Linux-only, or null. `scripts`: Linux-only fixture scripts, by file name. */
function linuxOnly(node, scripts) {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node)) {
    const text = node.text;
    if (/(?:^|[\s'"`=])\/proc(?:\/|$)/.test(text)) return 'reads /proc';
    const m = TOOL_RE.exec(text.trim());
    if (m) return `runs ${m[0].trim()}`;
    for (const [name, why] of scripts) if (text.endsWith(name)) return `runs ${name}, which ${why}`;
  }
  return null;
}

// A fixture script runs as its own process, started by a test: its Linux-only uses make the script
// Linux-only, and the test that names it must be guarded.
const isFixtureScript = (file) => /[\\/]fixtures[\\/].*\.[cm]?js$/.test(file);

function functionName(fn) {
  if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.name) return fn.name.getText();
  if (
    (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) &&
    ts.isVariableDeclaration(fn.parent) &&
    ts.isIdentifier(fn.parent.name)
  )
    return fn.parent.name.text;
  return null;
}

const isFunction = (n) =>
  ts.isFunctionDeclaration(n) ||
  ts.isArrowFunction(n) ||
  ts.isFunctionExpression(n) ||
  ts.isMethodDeclaration(n);

/** A comment on the guard's line or on one of the two lines above it. */
function hasReasonComment(sf, node) {
  const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
  const lines = sf.text.split('\n');
  return lines.slice(Math.max(0, line - 2), line + 1).some((l) => /\/\/|\/\*/.test(l));
}

/** A condition tests the platform, directly or through a const of this file (`canCreateUsers = isRoot && isLinux`). */
function platformCondition(sf, text) {
  if (PLATFORM_CONDITION.test(text)) return true;
  for (const st of sf.statements) {
    if (!ts.isVariableStatement(st)) continue;
    for (const d of st.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.initializer && new RegExp(`\\b${d.name.text}\\b`).test(text)) {
        if (PLATFORM_CONDITION.test(d.initializer.getText(sf))) return true;
      }
    }
  }
  return false;
}

/** Whether `node` sits under a platform guard; problems with guards themselves are pushed. */
function guard(sf, node, problems) {
  let conditional = false;
  for (let n = node.parent, child = node; n; child = n, n = n.parent) {
    if (ts.isCallExpression(n) && n.arguments.includes(child)) {
      const callee = n.expression.getText(sf);
      if (ROOT_GUARD.test(callee)) return 'guard';
      if (ts.isCallExpression(n.expression) && GUARD_CALL.test(n.expression.expression.getText(sf))) {
        const cond = n.expression.arguments.map((a) => a.getText(sf)).join(' ');
        if (platformCondition(sf, cond)) {
          if (!hasReasonComment(sf, n))
            problems.push(`${where(sf, n)}: a platform guard without a comment saying why`);
          return 'guard';
        }
      }
    }
    let cond = null;
    if (ts.isIfStatement(n) && child !== n.expression) cond = n.expression;
    if (ts.isConditionalExpression(n) && child !== n.condition) cond = n.condition;
    if (
      ts.isBinaryExpression(n) &&
      n.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken &&
      child === n.right
    )
      cond = n.left;
    if (cond && platformCondition(sf, cond.getText(sf))) return 'guard';
    // Inside a helper function, a use under another condition (`as ? setpriv... : ...`) is reached only
    // when the caller asks for it: the caller's guard is what matters, and its own uses are checked.
    if (cond) conditional = true;
    if (isFunction(n) && functionName(n)) return conditional ? 'guard' : { fn: functionName(n) };
  }
  return null;
}

const where = (sf, node) =>
  `${path.relative(root, sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;

export function checkPlatformGuards(files = listFiles()) {
  const first = analyse(files, new Map());
  const scripts = new Map();
  for (const p of first) {
    const file = p.split(':')[0];
    if (isFixtureScript(path.join(root, file)) && !scripts.has(path.basename(file)))
      scripts.set(
        path.basename(file),
        p.slice(p.indexOf(': ') + 2).replace(/, outside a Linux guard$| outside a Linux guard$/, ''),
      );
  }
  return analyse(files, scripts).filter((p) => !isFixtureScript(path.join(root, p.split(':')[0])));
}

/** The const a script's path is stored in at module level, if that is all this literal does. */
function scriptPath(node) {
  let n = node.parent;
  while (n && (ts.isCallExpression(n) || ts.isNewExpression(n) || ts.isPropertyAccessExpression(n)))
    n = n.parent;
  return n &&
    ts.isVariableDeclaration(n) &&
    ts.isIdentifier(n.name) &&
    ts.isSourceFile(n.parent.parent.parent)
    ? n.name.text
    : null;
}

function analyse(files, scripts) {
  const problems = [];
  const sources = files.map((f) =>
    ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true),
  );
  // Named functions that are Linux-only, and the unguarded uses found in them (reported only if called).
  const linuxFns = new Map();
  const linuxVars = new Map();
  const direct = [];
  const visit = (sf, node, fn) => {
    const what = linuxOnly(node, scripts);
    if (what) fn(node, what);
    ts.forEachChild(node, (c) => visit(sf, c, fn));
  };
  for (const sf of sources) {
    visit(sf, sf, (node, what) => {
      const g = guard(sf, node, problems);
      if (g === 'guard') return;
      if (g?.fn) linuxFns.set(`${sf.fileName}#${g.fn}`, `${what} (${where(sf, node)})`);
      else if (what.startsWith('runs ') && scriptPath(node)) {
        // `const fixture = fileURLToPath(new URL('./fixtures/x.mjs', ...))` names the script; whatever
        // uses `fixture` runs it.
        linuxVars.set(`${sf.fileName}#${scriptPath(node)}`, `${what} (${where(sf, node)})`);
      } else direct.push(`${where(sf, node)}: ${what} outside a Linux guard`);
    });
  }
  // A called name: a function of this file, or one imported from a relative module.
  const imports = new Map();
  for (const sf of sources) {
    const map = new Map();
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) || !st.importClause?.namedBindings) continue;
      const spec = st.moduleSpecifier.text;
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(sf.fileName), spec).replace(/\.js$/, '');
      const file = [`${target}.ts`, `${target}.mts`, `${target}.mjs`, `${target}.js`].find((f) =>
        files.includes(f),
      );
      const nb = st.importClause.namedBindings;
      if (file && ts.isNamedImports(nb))
        for (const el of nb.elements) map.set(el.name.text, `${file}#${(el.propertyName ?? el.name).text}`);
    }
    imports.set(sf.fileName, map);
  }
  const resolve = (sf, name) => imports.get(sf.fileName).get(name) ?? `${sf.fileName}#${name}`;
  // Calls to Linux-only functions, until no new function becomes Linux-only.
  const reported = new Set();
  for (let changed = true; changed; ) {
    changed = false;
    for (const sf of sources) {
      const walk = (node) => {
        if (ts.isIdentifier(node) && !ts.isVariableDeclaration(node.parent)) {
          const key = `${sf.fileName}#${node.text}`;
          if (linuxVars.has(key)) {
            const g = guard(sf, node, problems);
            const what = `uses ${node.text}, which ${linuxVars.get(key)}`;
            if (g?.fn && !linuxFns.has(`${sf.fileName}#${g.fn}`)) {
              linuxFns.set(`${sf.fileName}#${g.fn}`, what);
              changed = true;
            } else if (g === null) {
              const line = `${where(sf, node)}: ${what}, outside a Linux guard`;
              if (!reported.has(line)) {
                reported.add(line);
                direct.push(line);
              }
            }
          }
        }
        if (ts.isCallExpression(node)) {
          const e = node.expression;
          const name = ts.isIdentifier(e) ? e.text : null;
          const key = name && resolve(sf, name);
          if (key && linuxFns.has(key)) {
            const g = guard(sf, node, problems);
            const what = `calls ${name}(), which ${linuxFns.get(key)}`;
            if (g?.fn && !linuxFns.has(`${sf.fileName}#${g.fn}`)) {
              linuxFns.set(`${sf.fileName}#${g.fn}`, what);
              changed = true;
            } else if (g === null) {
              const line = `${where(sf, node)}: ${what}, outside a Linux guard`;
              if (!reported.has(line)) {
                reported.add(line);
                direct.push(line);
              }
            }
          }
        }
        ts.forEachChild(node, walk);
      };
      walk(sf);
    }
  }
  return [...new Set(problems), ...direct];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkPlatformGuards();
  for (const p of problems) console.error(`check-platform-guards: ${p}`);
  console.log(`check-platform-guards: ${problems.length} unguarded Linux-only uses in tests`);
  process.exit(problems.length ? 1 : 0);
}
