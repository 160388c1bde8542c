#!/usr/bin/env node
import { failureText } from './exit-rule.js';
import { main } from './index.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // main reports its own failures; this is one while reporting, printed by the same rule.
    console.error(`peerauth: ${failureText(err) ?? String(err)}`);
    process.exitCode = 1;
  },
);
