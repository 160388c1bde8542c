#!/usr/bin/env node
// The `peerauth` command. Committed, unlike dist/: `npm ci` in a checkout links bins before anything is
// built, and a bin target that does not exist yet gets no link, so `npx peerauth` would fall through to
// the public registry's unscoped `peerauth` package.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('peerauth: the CLI is not built yet; run `npm run build` in the repository root first');
  process.exit(1);
}
await import(entry.href);
