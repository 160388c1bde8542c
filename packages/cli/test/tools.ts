// Upstream servers some proxy tests drive come from the system (Debian packages: php-cli, lighttpd,
// python3-hypercorn). Where one is missing the tests that need it skip and say why; with
// PEERAUTH_REQUIRE_TOOLS=1 (CI, which installs them) a missing tool fails instead.
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

export interface Tool {
  /** The command to run, or null when none was found. */
  command: string | null;
  /** What is missing and how to install it. */
  missing: string;
}

function works(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/** The first candidate command for which `args` exits 0. */
export function findTool(candidates: string[], args: string[], missing: string): Tool {
  for (const c of candidates) if (works(c, args)) return { command: c, missing };
  return { command: null, missing };
}

/** A Python interpreter that can import `module` (Debian's packages install for /usr/bin/python3). */
export function pythonWith(module: string, debianPackage: string): Tool {
  return findTool(
    ['python3', '/usr/bin/python3'],
    ['-c', `import ${module}`],
    `no python3 with the ${module} module (apt-get install ${debianPackage})`,
  );
}

/** A describe block that runs only when every tool is there; otherwise it skips with the reason, or fails. */
export function describeWithTools(name: string, tools: Tool[], fn: () => void): void {
  const absent = tools.filter((t) => t.command === null);
  if (absent.length === 0) {
    describe(name, fn);
    return;
  }
  const reason = absent.map((t) => t.missing).join('; ');
  if (process.env.PEERAUTH_REQUIRE_TOOLS === '1') {
    describe(name, () => {
      it('has the tools it needs (PEERAUTH_REQUIRE_TOOLS=1)', () => {
        throw new Error(`missing: ${reason}`);
      });
    });
    return;
  }
  console.warn(`[peerauth tests] "${name}" skipped: ${reason}`);
  describe.skip(name, fn);
}
