// The one place that says how to get an addon where no prebuild ships: the published tarball holds no
// C++ sources (a binding.gyp in it makes npm run `node-gyp rebuild` at install), so the build happens in
// a checkout of the release's tag, and the project then installs that built package from the checkout.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const REPOSITORY = 'https://github.com/peerauth/peerauth.git';

function packageVersion(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
  return pkg.version;
}

/** Shell commands, run in order, that build this version's addon from source and install it. */
export function buildFromSourceCommands(version: string = packageVersion()): string[] {
  return [
    `git clone --depth 1 --branch @peerauth/core-native@${version} ${REPOSITORY} peerauth`,
    'cd peerauth && npm ci && npm run build -w @peerauth/core-native && cd -',
    'npm install ./peerauth/packages/core-native',
  ];
}

/**
 * The C library a Linux prebuild must be built for, as node-gyp-build decides it when it picks a file
 * (`LIBC` in the environment, else musl where /etc/alpine-release exists): prebuilds are tagged by libc
 * (`prebuildify --tag-libc`), so a glibc binary is never loaded on musl. null off Linux.
 */
export function prebuildLibc(
  platform: string = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  alpine: () => boolean = () => existsSync('/etc/alpine-release'),
): 'glibc' | 'musl' | null {
  if (platform !== 'linux') return null;
  if (env.LIBC === 'musl' || env.LIBC === 'glibc') return env.LIBC;
  return alpine() ? 'musl' : 'glibc';
}

/** The prebuild this process needs: its directory (prebuilds/<platform>-<arch>/) and, on Linux, the libc. */
export function prebuildTarget(): string {
  const libc = prebuildLibc();
  return `${process.platform}-${process.arch}${libc ? ` (${libc})` : ''}`;
}
