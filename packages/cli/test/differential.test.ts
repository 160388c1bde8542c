import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { generate, playAll } from './differential.js';
import { type RunningCli, run, startCli, tempDir, waitFor } from './helpers.js';
import { expectStamps, ownStamps } from './stamps.js';
import { type RecordingUpstream, startNodeUpstream, startPythonUpstream } from './upstreams.js';

/**
 * The differential test: generated requests go through the proxy to real upstream parsers, and every
 * request an upstream parsed must carry exactly the proxy's stamps and no client-chosen identity header.
 * `npm test` runs a small fixed-seed set; `npm run stress` a few thousand (PEERAUTH_STRESS_SCALE=small:
 * fewer, bounded for CI).
 */
const stress = process.env.PEERAUTH_DIFFERENTIAL === 'stress';
const small = process.env.PEERAUTH_STRESS_SCALE === 'small';
const COUNT = stress ? (small ? 600 : 3000) : 150;
const SEED = Number(process.env.PEERAUTH_DIFFERENTIAL_SEED ?? (stress ? 20261123 : 10));

const kinds = ['node', 'httpserver', 'wsgiref'] as const;

// The expected stamps carry the kernel's group list, read from /proc/self/status (Linux only).
describe.skipIf(!isLinux)(
  `peerauth proxy differential test (seed ${SEED}, ${COUNT} requests per upstream)`,
  () => {
    let dir: string;
    const upstreams: Partial<Record<(typeof kinds)[number], RecordingUpstream>> = {};
    const proxies: Partial<Record<(typeof kinds)[number], RunningCli>> = {};

    beforeAll(async () => {
      dir = tempDir('pa10p-');
      for (const kind of kinds) {
        upstreams[kind] = kind === 'node' ? await startNodeUpstream() : await startPythonUpstream(kind);
        proxies[kind] = await startCli(
          ['proxy', '--upstream', upstreams[kind]!.url],
          path.join(dir, `${kind}.sock`),
        );
      }
    });
    afterAll(async () => {
      for (const p of Object.values(proxies)) await p.stop();
      for (const u of Object.values(upstreams)) await u.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const kind of kinds) {
      it(`${kind}: every parsed request carries exactly the proxy's stamps`, {
        timeout: 600_000,
      }, async () => {
        const upstream = upstreams[kind]!;
        const proxy = proxies[kind]!;
        const conns = generate(SEED, COUNT);
        await playAll(proxy.socket, conns);
        // Upstreams record a request before answering it, so once this one is seen every earlier one is.
        const r = await run('curl', ['-sS', '--unix-socket', proxy.socket, 'http://localhost/sentinel']);
        expect(r.code).toBe(0);
        await waitFor(() => upstream.seen.some((s) => s.path === '/sentinel'));
        expect(proxy.child.exitCode).toBeNull();

        const stamps = ownStamps();
        const paths = new Map<string, number>();
        for (const seen of upstream.seen) {
          expectStamps(seen, stamps);
          expect(seen.path).toMatch(/^\/(d\/\d+|end-\d+|sentinel)$/);
          paths.set(seen.path, (paths.get(seen.path) ?? 0) + 1);
        }
        for (const [p, n] of paths) expect(n, p).toBe(1);

        const generated = new Map(conns.flatMap((c) => c.requests).map((g) => [g.path, g]));
        for (const seen of upstream.seen) {
          const g = generated.get(seen.path);
          // wsgiref hands a WSGI app no way to read a chunked body.
          if (g && kind !== 'wsgiref') expect(seen.bodyLength, seen.path).toBe(g.bodyLength);
          if (g)
            expect(g.outcome, `${seen.path} should have been refused: ${JSON.stringify(g.bytes)}`).not.toBe(
              'refuse',
            );
        }
        // Every well-formed request before the first one that may end its connection got through (unless an
        // unparseable one later on cut the connection while it was in flight).
        for (const c of conns) {
          if (c.requests.some((g) => g.breaks)) continue;
          for (const g of c.requests) {
            if (g.outcome === 'forward')
              expect(
                paths.has(g.path),
                `${g.path} never reached ${kind}: ${JSON.stringify(c.writes).slice(0, 2000)}\nproxy log: ${proxy
                  .stderr()
                  .split('\n')
                  .filter((l) => !l.includes('peerauth.connection'))
                  .slice(-10)
                  .join('\n')}`,
              ).toBe(true);
            if (g.ends) break;
          }
        }
      });
    }
  },
);
