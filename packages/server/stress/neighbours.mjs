// npm run stress -w @peerauth/server (after stress/run.mjs)
// Noisy neighbours: uids whose NSS lookups hang (an LD_PRELOAD fault in the server process, as an
// LDAP-backed passwd that stalls on unknown ids would), each reconnecting as fast as it is refused, while
// other users connect one at a time. Prints, for 0 to 6 stuck uids, how many of the other users' tries
// were served. The pool (4 threads) promises that up to 3 uids starting to hang at once delay no one, and
// that any number of them hold at most half its workers once one of their lookups has timed out.
// PEERAUTH_STRESS_SCALE=small (CI) runs fewer tries and shorter hangs. Needs root on Linux (other uids).
// Exits non-zero when the server dies, or when a user is refused with at most 3 uids stuck.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SMALL = process.env.PEERAUTH_STRESS_SCALE === 'small';
const SIZES = SMALL
  ? { tries: 8, hangMs: 8_000, stuck: [0, 1, 2, 3, 4, 6] }
  : { tries: 24, hangMs: 30_000, stuck: [0, 1, 2, 3, 4, 6] };
// The promise: this many stuck uids delay no one.
const PROMISED = 3;
const STUCK_FIRST = 4_300_000;
// Accounts every Debian system has (daemon, bin, sys, sync, games, man, lp, mail): real, uncached lookups.
const OTHERS = [1, 2, 3, 4, 5, 6, 7, 8];
const LOOP = path.join(HERE, '../../../test-fixtures/connect-loop.mjs');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function nssFaultLibrary(dir) {
  const out = path.join(dir, 'libnss_fault.so');
  const source = path.join(HERE, '../../../test-fixtures/nss-fault/nss_fault.c');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, source, '-ldl'], { stdio: 'pipe' });
  fs.chmodSync(out, 0o755);
  return out;
}

async function startServer(socketPath, env) {
  const proc = spawn(process.execPath, [path.join(HERE, 'server.mjs'), socketPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  await Promise.race([
    (async () => {
      while (!out.includes('ready')) await sleep(20);
    })(),
    exited.then((e) => {
      throw new Error(`server exited (${e.code ?? e.signal}) before listening: ${out}${err}`);
    }),
  ]);
  return {
    alive: () => proc.exitCode === null && proc.signalCode === null,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** GET /whoami from a process running as `uid`; resolves with the status (0 when refused). */
function whoamiAs(socketPath, uid) {
  const code = `const c=require('net').connect(process.argv[1]);let d='';c.on('connect',()=>c.write('GET /whoami HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));c.on('data',x=>d+=x);c.on('error',()=>{});c.on('close',()=>process.stdout.write(d.split(' ')[1]||'0'))`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['-e', code, socketPath], {
      uid,
      gid: uid,
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: '/',
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.once('exit', () => resolve(Number(out) || 0));
  });
}

/** `count` uids that reconnect as soon as they are refused; returns a function that stops them. */
function stuckLoops(socketPath, count) {
  const loops = Array.from({ length: count }, (_, i) =>
    spawn(process.execPath, [LOOP, socketPath], {
      uid: STUCK_FIRST + i,
      gid: STUCK_FIRST + i,
      stdio: 'ignore',
      cwd: '/',
    }),
  );
  for (const l of loops) l.on('error', () => {});
  return () => {
    for (const l of loops) l.kill('SIGKILL');
  };
}

async function round(dir, lib, stuck) {
  const socketPath = path.join(dir, `n${stuck}.sock`);
  const env = {
    ...process.env,
    LD_PRELOAD: lib,
    PEERAUTH_NSS_FAULTS: `getpwuid_r=${STUCK_FIRST}-${STUCK_FIRST + 99}:sleep${SIZES.hangMs}`,
  };
  const server = await startServer(socketPath, env);
  const stop = stuckLoops(socketPath, stuck);
  try {
    // Let every stuck uid run into the pool's timeout once (2 s) and come back.
    if (stuck > 0) await sleep(3_000);
    let served = 0;
    for (let i = 0; i < SIZES.tries && server.alive(); i++) {
      if ((await whoamiAs(socketPath, OTHERS[i % OTHERS.length])) === 200) served++;
      await sleep(100);
    }
    return { stuck, served, tries: SIZES.tries, alive: server.alive(), stderr: server.stderr() };
  } finally {
    stop();
    await server.stop();
  }
}

async function main() {
  if (process.getuid?.() !== 0 || process.platform !== 'linux') {
    console.log('skip neighbours: needs root on Linux to connect as other uids');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pasrv-neighbours-'));
  fs.chmodSync(dir, 0o755);
  let failed = 0;
  try {
    const lib = nssFaultLibrary(dir);
    console.log(
      `peerauth stress neighbours (${SMALL ? 'small' : 'full'} sizes): lookups of stuck uids hang ${SIZES.hangMs} ms; ` +
        `${SIZES.tries} tries by other users each`,
    );
    for (const stuck of SIZES.stuck) {
      const r = await round(dir, lib, stuck);
      const ok = r.alive && (stuck > PROMISED || r.served === r.tries);
      if (!ok) failed++;
      console.log(
        `${ok ? 'ok  ' : 'FAIL'} neighbours: ${stuck} stuck uid${stuck === 1 ? '' : 's'} reconnecting: other users served ` +
          `${r.served} of ${r.tries}${r.alive ? '' : `; server DIED: ${r.stderr.slice(-300)}`}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`stress neighbours: ${failed === 0 ? 'passed' : `${failed} failed`}`);
  process.exit(failed === 0 ? 0 : 1);
}

await main();
