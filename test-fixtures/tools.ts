// Optional system tools a test drives as an independent client or server (socat, systemd-analyze, ...).
// A fresh machine with only Node, npm, a C++ toolchain, python3, curl and the base system passes `npm test`:
// a test whose tool is missing skips and prints why and how to install it. CI installs every tool and sets
// PEERAUTH_REQUIRE_TOOLS=1, under which a missing tool fails the test file instead, so nothing skips there
// unnoticed. The root README lists the tools. A tool is named (found on PATH) or probed (a Tool: the first
// candidate command that answers, such as a python3 that can import a module).
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';

/** Set by `.ci/run` and ci.yml: a missing tool is a failure, not a skip. */
export const REQUIRE_TOOLS = process.env.PEERAUTH_REQUIRE_TOOLS === '1';

/** How to install each tool the suite knows, for the skip message. */
const INSTALL: Record<string, string> = {
  socat: 'apt-get install socat / brew install socat',
  'systemd-analyze': 'apt-get install systemd (Linux with systemd only)',
  newuidmap: 'apt-get install uidmap',
  newgidmap: 'apt-get install uidmap',
};

/** The tool's full path when an executable of that name is on PATH (or `name` is a path to one). */
export function findTool(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, name));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export class MissingToolError extends Error {
  constructor(
    readonly tool: string,
    what: string,
  ) {
    super(
      `${what} needs \`${tool}\`, which is not on PATH, and PEERAUTH_REQUIRE_TOOLS=1 makes a missing tool a ` +
        `failure${INSTALL[tool] ? ` (${INSTALL[tool]})` : ''}`,
    );
    this.name = 'MissingToolError';
  }
}

/**
 * Whether the tests described by `what` can run: true when `tool` is on PATH. When it is not, prints why
 * they skip (returns false) or, under PEERAUTH_REQUIRE_TOOLS=1, throws so the test file fails.
 * Use it as `it.skipIf(!hasTool('socat', 'half-close through socat'))(...)`.
 */
export function hasTool(tool: string, what: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (findTool(tool, env.PATH ?? '')) return true;
  if (env.PEERAUTH_REQUIRE_TOOLS === '1') throw new MissingToolError(tool, what);
  console.warn(
    `[peerauth tests] ${what}: skipped, \`${tool}\` is not installed` +
      `${INSTALL[tool] ? ` (${INSTALL[tool]})` : ''}; PEERAUTH_REQUIRE_TOOLS=1 makes this a failure`,
  );
  return false;
}

/** The tools in `tools` that are not on PATH. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((t) => findTool(t) === undefined);
}

/** A tool found by running it: the command that answered, or null, and what to install when it is missing. */
export interface Tool {
  /** The command to run, or null when none was found. */
  command: string | null;
  /** What is missing and how to install it. */
  missing: string;
}

function answers(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/** The first candidate command for which `args` exits 0. */
export function workingTool(candidates: string[], args: string[], missing: string): Tool {
  for (const c of candidates) if (answers(c, args)) return { command: c, missing };
  return { command: null, missing };
}

/** A Python interpreter that can import `module` (Debian's packages install for /usr/bin/python3). */
export function pythonWith(module: string, debianPackage: string): Tool {
  return workingTool(
    ['python3', '/usr/bin/python3'],
    ['-c', `import ${module}`],
    `no python3 with the ${module} module (apt-get install ${debianPackage})`,
  );
}

/**
 * `describe` when every tool is there (a name on PATH, or a probed Tool with a command); else skipped with
 * the reason printed, or failing when required.
 */
export function describeWithTools(name: string, tools: readonly (string | Tool)[], fn: () => void): void {
  const missing = missingTools(tools.filter((t): t is string => typeof t === 'string'));
  const unanswered = tools.filter((t): t is Tool => typeof t !== 'string' && t.command === null);
  if (missing.length === 0 && unanswered.length === 0) {
    describe(name, fn);
    return;
  }
  const reasons = unanswered.map((t) => t.missing);
  if (missing.length > 0)
    reasons.unshift(
      `needs ${missing.join(', ')} on PATH (${missing.map((t) => INSTALL[t] ?? t).join('; ')})`,
    );
  const reason = reasons.join('; ');
  if (REQUIRE_TOOLS) {
    describe(name, () => {
      it(`has its tools (${reason}; PEERAUTH_REQUIRE_TOOLS=1)`, () => {
        throw new Error(`${name}: ${reason}`);
      });
    });
    return;
  }
  console.warn(`[peerauth tests] "${name}" skipped: ${reason}`);
  describe.skip(name, fn);
}
