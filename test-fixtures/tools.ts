// Tests that drive a system tool (newgidmap from Debian's uidmap, say) skip and say why where it is
// missing; with PEERAUTH_REQUIRE_TOOLS=1 (CI, which installs them) a missing tool fails the run instead.
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The tools in `tools` that are not on PATH. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((t) => !/^[a-z0-9_.-]+$/i.test(t) || !has(t));
}

/** `describe` when every tool is on PATH; else skipped with the reason printed, or failing when required. */
export function describeWithTools(name: string, tools: readonly string[], fn: () => void): void {
  const missing = missingTools(tools);
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  const reason = `needs ${missing.join(', ')} on PATH`;
  if (process.env.PEERAUTH_REQUIRE_TOOLS === '1') {
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
