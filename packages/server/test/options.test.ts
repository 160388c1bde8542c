// createPeerServer's options are checked once, by one schema, before anything is created: every bad value
// is InvalidServerOptionError naming the option's path and what was wrong. Each case below was accepted
// before the schema, with a quiet failure later (a memo that never evicts, a listen() that throws, a set of
// characters as allowed roles, a timer that fires at once).
import { InvalidArgumentError } from '@peerauth/core-native';
import { describe, expect, it } from 'vitest';
import {
  createCachingDirectory,
  createPeerServer,
  InvalidServerOptionError,
  type PeerServerOptions,
} from '../src/index.js';
import { countingDirectory, silentLogger } from './helpers.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
const tlsIdentity = { people: [], trustDomains: { 'a.test': { bundle: '/nonexistent/bundle.pem' } } };
const tlsBase = { host: '127.0.0.1', port: 0, certFile: '/nonexistent/c.pem', keyFile: '/nonexistent/k.pem' };

function thrownBy(options: Record<string, unknown>): unknown {
  try {
    createPeerServer({ logger: silentLogger, ...options } as PeerServerOptions);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('server options accepted before the schema, refused now', () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      'cache.identities "many" (the memo max became NaN: it never evicted)',
      { cache: { identities: 'many' } },
      'cache.identities',
      'invalid cache.identities "many": expected a whole number >= 0',
    ],
    [
      'cache.identities -1 (silently read as 0)',
      { cache: { identities: -1 } },
      'cache.identities',
      'invalid cache.identities -1: expected a whole number >= 0',
    ],
    [
      'backlog "x" (handed to listen())',
      { backlog: 'x' },
      'backlog',
      'invalid backlog "x": expected a whole number >= 0',
    ],
    ['backlog 1.5', { backlog: 1.5 }, 'backlog', 'invalid backlog 1.5: expected a whole number >= 0'],
    [
      'allowRoles "admin" (its characters became the allowed roles)',
      { allowRoles: 'admin' },
      'allowRoles',
      'invalid allowRoles "admin": expected an array of role names',
    ],
    [
      'allowRoles with a number',
      { allowRoles: ['admin', 7] },
      'allowRoles.1',
      'invalid allowRoles.1 7: expected a role name (a string)',
    ],
    [
      'cache "x" (ignored)',
      { cache: 'x' },
      'cache',
      'invalid cache "x": expected an object { ttlMs, negativeTtlMs, failureTtlMs, max, identities }',
    ],
    [
      'cache.max "10" (coerced by Math.max)',
      { cache: { max: '10' } },
      'cache.max',
      'invalid cache.max "10": expected a number >= 0',
    ],
    [
      'idleTimeoutMs beyond what a timer holds (it fired after 1 ms)',
      { idleTimeoutMs: MAX_TIMER_MS + 1 },
      'idleTimeoutMs',
      `invalid idleTimeoutMs ${MAX_TIMER_MS + 1}: expected at most ${MAX_TIMER_MS} milliseconds`,
    ],
    [
      'drainTimeoutMs beyond what a timer holds (the drain was cut after 1 ms)',
      { drainTimeoutMs: 2 ** 32 },
      'drainTimeoutMs',
      `invalid drainTimeoutMs ${2 ** 32}: expected at most ${MAX_TIMER_MS} milliseconds`,
    ],
    [
      'listenFds "yes" (read as auto)',
      { listenFds: 'yes' },
      'listenFds',
      `invalid listenFds "yes": expected true, false or 'auto'`,
    ],
    [
      'asyncContext "no" (read as true)',
      { asyncContext: 'no' },
      'asyncContext',
      'invalid asyncContext "no": expected true or false',
    ],
    [
      'allowHalfOpen "yes" (read as false)',
      { allowHalfOpen: 'yes' },
      'allowHalfOpen',
      'invalid allowHalfOpen "yes": expected true or false',
    ],
    [
      'process "yes" (handed to attestation as its options)',
      { process: 'yes' },
      'process',
      'invalid process "yes": expected true, false or { sha256 }',
    ],
    [
      'process.sha256 "no" (read as false)',
      { process: { sha256: 'no' } },
      'process.sha256',
      'invalid process.sha256 "no": expected true or false',
    ],
    ['path 5 (failed only in listen())', { path: 5 }, 'path', 'invalid path 5: expected a non-empty string'],
    [
      'logger {} (the first log line threw)',
      { logger: {} },
      'logger',
      'invalid logger {}: expected a pino-compatible logger with info, warn and error methods',
    ],
    [
      'tls.handshakeTimeoutMs beyond what a timer holds',
      { identity: tlsIdentity, tls: { ...tlsBase, handshakeTimeoutMs: MAX_TIMER_MS + 1 } },
      'tls.handshakeTimeoutMs',
      `invalid tls.handshakeTimeoutMs ${MAX_TIMER_MS + 1}: expected at most ${MAX_TIMER_MS} milliseconds`,
    ],
    [
      'tls.pollMs beyond what a timer holds',
      { identity: tlsIdentity, tls: { ...tlsBase, pollMs: MAX_TIMER_MS + 1 } },
      'tls.pollMs',
      `invalid tls.pollMs ${MAX_TIMER_MS + 1}: expected at most ${MAX_TIMER_MS} milliseconds`,
    ],
  ];
  for (const [what, options, option, message] of cases) {
    it(what, () => {
      const err = thrownBy(options);
      expect(err).toBeInstanceOf(InvalidServerOptionError);
      expect(err).toMatchObject({ code: 'PEERAUTH_INVALID_SERVER_OPTION', option, message });
    });
  }
});

describe('messages name the path, the value and the rule', () => {
  it('tls.port out of range', () => {
    expect(thrownBy({ identity: tlsIdentity, tls: { ...tlsBase, port: 70000 } })).toMatchObject({
      option: 'tls.port',
      message: 'invalid tls.port 70000: expected a whole number from 0 to 65535',
    });
  });
});

describe('one error class for every server option', () => {
  it('a bad cache TTL given to createPeerServer is InvalidServerOptionError (was a RangeError)', () => {
    const err = thrownBy({ cache: { ttlMs: -1 } });
    expect(err).toBeInstanceOf(InvalidServerOptionError);
    expect(err).toMatchObject({
      option: 'cache.ttlMs',
      message: 'invalid cache.ttlMs -1: expected a number of milliseconds >= 0',
    });
  });
});

describe('what the schema still accepts', () => {
  it('absent and undefined options take their defaults; the largest timer values are kept', () => {
    for (const options of [
      {},
      { drainTimeoutMs: undefined, backlog: undefined, cache: undefined },
      { idleTimeoutMs: MAX_TIMER_MS, drainTimeoutMs: MAX_TIMER_MS, backlog: 0 },
      { cache: { identities: 0, max: 0, ttlMs: 0.5 }, process: { sha256: true }, listenFds: false },
      { allowRoles: [], asyncContext: false, allowHalfOpen: true, handleSignals: 'close', refusal: 'http' },
    ]) {
      expect(thrownBy(options), JSON.stringify(options)).toBeUndefined();
    }
  });
});

describe('unknown option keys are refused, at every level', () => {
  // Before, zod dropped them: `maxConnection: 5` (a typo) ran the server with no connection limit at all.
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      'maxConnection (a typo of maxConnections)',
      { maxConnection: 5 },
      'maxConnection',
      'invalid maxConnection 5: not an option of createPeerServer (did you mean "maxConnections"?)',
    ],
    [
      'a key far from every option gets no suggestion',
      { colour: 'red' },
      'colour',
      'invalid colour "red": not an option of createPeerServer',
    ],
    [
      'cache.ttlMS',
      { cache: { ttlMS: 1000 } },
      'cache.ttlMS',
      'invalid cache.ttlMS 1000: not an option of cache (did you mean "ttlMs"?)',
    ],
    [
      'cache.now (createCachingDirectory takes it, createPeerServer does not)',
      { cache: { now: () => 0 } },
      'cache.now',
      'invalid cache.now a function: not an option of cache',
    ],
    [
      'process.sha265',
      { process: { sha265: true } },
      'process.sha265',
      'invalid process.sha265 true: not an option of process (did you mean "sha256"?)',
    ],
    [
      'tls.maxPendingHandshake',
      { identity: tlsIdentity, tls: { ...tlsBase, maxPendingHandshake: 8 } },
      'tls.maxPendingHandshake',
      'invalid tls.maxPendingHandshake 8: not an option of tls (did you mean "maxPendingHandshakes"?)',
    ],
  ];
  for (const [what, options, option, message] of cases) {
    it(what, () => {
      const err = thrownBy(options);
      expect(err).toBeInstanceOf(InvalidServerOptionError);
      expect(err).toMatchObject({ code: 'PEERAUTH_INVALID_SERVER_OPTION', option, message });
    });
  }

  it('a key whose value is undefined is still a typo', () => {
    expect(thrownBy({ maxConnectionsPerUID: undefined })).toMatchObject({
      option: 'maxConnectionsPerUID',
      message:
        'invalid maxConnectionsPerUID undefined: not an option of createPeerServer (did you mean "maxConnectionsPerUid"?)',
    });
  });
});

describe("createCachingDirectory's options refuse unknown keys too", () => {
  it('ttlMS is an invalid-argument error naming the key and the one meant', () => {
    let err: unknown;
    try {
      createCachingDirectory(countingDirectory({}), { ttlMS: 10 } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({
      code: 'PEERAUTH_INVALID_ARGUMENT',
      message: 'invalid cache.ttlMS 10: not an option of createCachingDirectory (did you mean "ttlMs"?)',
    });
  });
});

describe('tls.maxPendingHandshakes has an upper bound', () => {
  // Before, any count was taken: 10 million pending handshakes is no bound on descriptors or TLS state.
  it('4097 is refused, naming the range', () => {
    const err = thrownBy({ identity: tlsIdentity, tls: { ...tlsBase, maxPendingHandshakes: 4097 } });
    expect(err).toBeInstanceOf(InvalidServerOptionError);
    expect(err).toMatchObject({
      option: 'tls.maxPendingHandshakes',
      message: 'invalid tls.maxPendingHandshakes 4097: expected a whole number from 1 to 4096',
    });
  });

  it('0 is refused with the same range; 1 and 4096 are taken', () => {
    expect(thrownBy({ identity: tlsIdentity, tls: { ...tlsBase, maxPendingHandshakes: 0 } })).toMatchObject({
      message: 'invalid tls.maxPendingHandshakes 0: expected a whole number from 1 to 4096',
    });
    for (const maxPendingHandshakes of [1, 4096])
      expect(
        thrownBy({ identity: tlsIdentity, tls: { ...tlsBase, maxPendingHandshakes } }),
        String(maxPendingHandshakes),
      ).toBeUndefined();
  });
});
