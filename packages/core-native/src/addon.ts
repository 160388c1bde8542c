// Loads the one native addon with node-gyp-build from the package root: build/Release when a local
// build exists (a checkout), else prebuilds/<platform>-<arch>/ (what a packed install ships).
// A missing addon is remembered rather than thrown at import, so importing never fails and each
// call can report the problem as a typed error.
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFromSourceCommands, prebuildTarget } from './build-from-source.js';
import { NativeAddonMissingError, PeerCredentialsUnavailableError } from './errors.js';
import type { GroupEntry, UserEntry } from './nss-entries.js';

export interface NativeBinding {
  setBuffer(buf: Uint32Array): void;
  readPeer(fd: number): number;
  openPidfd(fd: number): number | null;
  closeFd(fd: number): number;
  probe(): number;
  exePath(pid: number): string;
  startTime(pid: number): string;
  pidfdAlive(pidfd: number): number;
  setChildSubreaper(): number;
  reapChild(pid: number): boolean;
  unixSocketName(fd: number): string | null;
  getpwuid(uid: number): UserEntry | null;
  getpwnam(name: string): UserEntry | null;
  getgrgid(gid: number): GroupEntry | null;
  getgrouplist(name: string, gid: number): number[];
  readonly unsupportedReason: string;
  readonly resultNeedMore: number;
  readonly resultUnsupported: number;
  readonly layout: AddonLayout;
}

/** The result buffer's slots and the flag bits, as platform.h defines them. */
export interface AddonLayout {
  readonly slots: {
    readonly flags: number;
    readonly pid: number;
    readonly uid: number;
    readonly gid: number;
    readonly ngroups: number;
    readonly groups: number;
  };
  /** Bits of the flags slot. */
  readonly flags: { readonly pid: number; readonly groups: number };
  /** Bits of probe()'s answer. */
  readonly support: {
    readonly pid: number;
    readonly groups: number;
    readonly pidfd: number;
    readonly credentials: number;
  };
}

const require = createRequire(import.meta.url);
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

let loaded: { binding: NativeBinding; path: string } | null = null;
let loadError: Error | null = null;

try {
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  const path = nodeGypBuild.path(packageRoot);
  const binding = require(path) as NativeBinding;
  // A binary built from older sources has no layout: reading its buffer with guessed slots could hand out
  // wrong ids, so it is refused like a missing addon.
  if (typeof binding.layout?.slots?.groups !== 'number')
    throw new Error(`${path} was built from older sources (it exports no buffer layout): rebuild it`);
  loaded = { binding, path };
} catch (err) {
  loadError = err instanceof Error ? err : new Error(String(err));
}

/**
 * The addon, or why it could not be loaded: NativeAddonMissingError (with the commands that build one)
 * when there is no binary for this platform, else PeerCredentialsUnavailableError with the loader's reason.
 */
export function nativeBinding(): NativeBinding {
  return loadedAddon().binding;
}

/** The addon's layout, or null when there is no addon (then every call fails before it needs one). */
export function addonLayout(): AddonLayout | null {
  return loaded?.binding.layout ?? null;
}

/** Which addon file was loaded: a local build or a shipped prebuild (shown by `peerauth doctor`). */
export function addonOrigin(): { source: 'prebuild' | 'build'; path: string } {
  const { path } = loadedAddon();
  return { source: path.includes(`${sep}prebuilds${sep}`) ? 'prebuild' : 'build', path };
}

function loadedAddon(): { binding: NativeBinding; path: string } {
  if (loaded) return loaded;
  if (loadError?.message.startsWith('No native build was found'))
    throw new NativeAddonMissingError(process.platform, prebuildTarget(), buildFromSourceCommands());
  throw new PeerCredentialsUnavailableError(
    process.platform,
    `the native addon could not be loaded (${loadError?.message.split('\n')[0] ?? 'unknown error'})`,
  );
}
