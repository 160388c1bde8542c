// The one place that says how to get an addon where no prebuild ships: the published tarball holds no
// C++ sources (a binding.gyp in it makes npm run `node-gyp rebuild` at install), so the build happens in
// a checkout of the release's tag, and the project then installs that built package from the checkout.
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

/** The platform-arch pair a prebuild directory is named after (prebuilds/<target>/). */
export function prebuildTarget(): string {
  return `${process.platform}-${process.arch}`;
}
