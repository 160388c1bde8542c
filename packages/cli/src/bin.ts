#!/usr/bin/env node
import { main } from './index.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`peerauth: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
