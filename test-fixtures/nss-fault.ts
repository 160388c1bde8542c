// Builds test-fixtures/nss-fault/nss_fault.c into a shared library for LD_PRELOAD, once per process,
// in a fresh temporary directory that every user can read (tests run servers and clients as other uids).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeAfterFile } from './cleanup.js';

const source = join(dirname(fileURLToPath(import.meta.url)), 'nss-fault', 'nss_fault.c');
let built: string | undefined;

/** Path of the compiled fault library (Linux only: needs cc). */
export function nssFaultLibrary(): string {
  if (built) return built;
  const dir = removeAfterFile(mkdtempSync(join(tmpdir(), 'peerauth-nss-fault-')));
  chmodSync(dir, 0o755);
  const out = join(dir, 'libnss_fault.so');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', out, source, '-ldl'], { stdio: 'pipe' });
  chmodSync(out, 0o755);
  built = out;
  return out;
}

/**
 * Rules for PEERAUTH_NSS_FAULTS, e.g. `{ call: 'getpwuid_r', key: 4002, action: 'sleep3000' }`, or
 * `action: 'name' + hex` to rename a real passwd/group entry (getpwuid_r, getgrgid_r) to bytes useradd
 * would refuse.
 */
export interface NssFault {
  call: 'getpwuid_r' | 'getpwnam_r' | 'getgrgid_r' | 'getgrnam_r';
  /** A uid/gid, a range `'FIRST-LAST'` of them, or a name for the *nam_r calls. */
  key: number | string;
  action: string;
}

/** Environment for a child process whose NSS lookups fail as the rules say. */
export function nssFaultEnv(faults: NssFault[], base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    LD_PRELOAD: nssFaultLibrary(),
    PEERAUTH_NSS_FAULTS: faults.map((f) => `${f.call}=${f.key}:${f.action}`).join(';'),
  };
}
