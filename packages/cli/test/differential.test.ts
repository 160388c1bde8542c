import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinux } from '../../../test-fixtures/root.js';
import { generate, playAll } from './differential.js';
import { type RunningCli, run, startCli, tempDir, waitFor } from './helpers.js';
import { expectStamps, ownStamps } from './stamps.js';
import { describeWithTools, findTool, pythonWith, type Tool } from './tools.js';
import {
  type RecordingUpstream,
  startHypercornUpstream,
  startLighttpdCgiUpstream,
  startNodeUpstream,
  startPhpUpstream,
  startPythonUpstream,
} from './upstreams.js';

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

const php = findTool(['php'], ['-v'], 'no php (apt-get install php-cli)');
const lighttpd = findTool(['lighttpd'], ['-v'], 'no lighttpd (apt-get install lighttpd)');
const python = findTool(['python3', '/usr/bin/python3'], ['-c', 'pass'], 'no python3');
const hypercorn = pythonWith('hypercorn', 'python3-hypercorn');

/**
 * The upstream parsers. `bodies`: the recorded body length is the body's (wsgiref hands a WSGI app no
 * way to read a chunked body; nodrain never reads one). node:http, http.server and wsgiref run
 * everywhere; PHP (folds `.` to `_`), lighttpd's CGI (folds every non-alphanumeric to `_`), hypercorn
 * (h2c-capable) and http.server without draining (a leftover body would be its next request) need tools.
 */
interface Kind {
  name: string;
  tools: Tool[];
  bodies: boolean;
  start: () => Promise<RecordingUpstream>;
  /** CGI passes no variable for an empty header (an empty X-Peerauth-Groups). */
  emptyDropped?: boolean;
  /** A process per request (CGI): a third of the requests, to keep the run short. */
  slow?: boolean;
  /**
   * A WebSocket upgrade without a valid handshake (no Sec-WebSocket-Key) is answered by the server itself,
   * never handed to the application that records requests (hypercorn): it reaches the upstream unseen.
   */
  websocketUnseen?: boolean;
}

const kinds: Kind[] = [
  { name: 'node', tools: [], bodies: true, start: () => startNodeUpstream() },
  { name: 'httpserver', tools: [], bodies: true, start: () => startPythonUpstream('httpserver') },
  { name: 'wsgiref', tools: [], bodies: false, start: () => startPythonUpstream('wsgiref') },
  { name: 'httpserver-nodrain', tools: [], bodies: false, start: () => startPythonUpstream('nodrain') },
  { name: 'php', tools: [php], bodies: false, start: () => startPhpUpstream(php.command!) },
  {
    name: 'lighttpd-cgi',
    tools: [lighttpd, python],
    bodies: false,
    start: () => startLighttpdCgiUpstream(lighttpd.command!, python.command!),
    emptyDropped: true,
    slow: true,
  },
  {
    name: 'hypercorn',
    tools: [hypercorn],
    bodies: true,
    start: () => startHypercornUpstream(hypercorn.command!),
    websocketUnseen: true,
  },
];

// The expected stamps carry the kernel's group list, read from /proc/self/status (Linux only).
describe.skipIf(!isLinux)('peerauth proxy differential test', () => {
  for (const kind of kinds) {
    describeWithTools(
      `peerauth proxy differential test: ${kind.name} (seed ${SEED}, ${COUNT} requests)`,
      kind.tools,
      () => {
        let dir: string;
        let upstream: RecordingUpstream;
        let proxy: RunningCli;

        beforeAll(async () => {
          dir = tempDir('pa10p-');
          upstream = await kind.start();
          proxy = await startCli(['proxy', '--upstream', upstream.url], path.join(dir, 'p.sock'));
        });
        afterAll(async () => {
          await proxy?.stop();
          await upstream?.close();
          if (dir) fs.rmSync(dir, { recursive: true, force: true });
        });

        it("every parsed request carries exactly the proxy's stamps", { timeout: 600_000 }, async () => {
          const conns = generate(SEED, kind.slow && !stress ? Math.ceil(COUNT / 3) : COUNT);
          await playAll(proxy.socket, conns);
          // Upstreams record a request before answering it, so once this one is seen every earlier one is.
          const r = await run('curl', ['-sS', '--unix-socket', proxy.socket, 'http://localhost/sentinel']);
          expect(r.code).toBe(0);
          await waitFor(() => upstream.seen.some((s) => s.path === '/sentinel'));
          expect(proxy.child.exitCode).toBeNull();

          const stamps = Object.fromEntries(
            Object.entries(ownStamps()).filter(([, v]) => !(kind.emptyDropped && v === '')),
          );
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
            if (g && kind.bodies) expect(seen.bodyLength, seen.path).toBe(g.bodyLength);
            if (g)
              expect(g.outcome, `${seen.path} should have been refused: ${JSON.stringify(g.bytes)}`).not.toBe(
                'refuse',
              );
          }
          // Every well-formed request up to the first one that may end its connection got through: a later
          // refusal, parse error or upgrade waits for the answers to the requests pipelined before it, even
          // from a slow upstream (a CGI process per request).
          for (const c of conns) {
            for (const g of c.requests) {
              const unseen = kind.websocketUnseen && g.bytes.includes('\r\nUpgrade: websocket\r\n');
              if (g.outcome === 'forward' && !unseen)
                expect(
                  paths.has(g.path),
                  `${g.path} never reached ${kind.name}: ${JSON.stringify(c.writes).slice(0, 2000)}\nproxy log: ${proxy
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
      },
    );
  }
});
