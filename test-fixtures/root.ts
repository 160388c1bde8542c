// Shared by every package's tests: tests that change users, groups or namespaces need root.
// Elsewhere (a macOS laptop, an unprivileged runner) they skip and say why, rather than fail or pass silently.
import { describe } from 'vitest';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
export const isLinux = process.platform === 'linux';

export const ROOT_SKIP_REASON =
  'skipped: needs root on Linux to act as other users (run the suite as root to exercise it)';

/** A describe block that runs only as root on Linux, and prints why when it is skipped. */
export function describeAsRoot(name: string, fn: () => void): void {
  if (!(isRoot && isLinux)) {
    console.warn(`[peerauth tests] "${name}" ${ROOT_SKIP_REASON}`);
  }
  describe.skipIf(!(isRoot && isLinux))(name, fn);
}
