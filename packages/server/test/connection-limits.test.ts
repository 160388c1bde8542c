import { describe, expect, it } from 'vitest';
import { createPeerServer, InvalidServerOptionError } from '../src/index.js';

describe('connection limit options', () => {
  const cases: [string, object, string][] = [
    [
      'maxConnectionsPerUid 0',
      { maxConnectionsPerUid: 0 },
      'invalid maxConnectionsPerUid 0: expected a whole number >= 1',
    ],
    ['idleTimeoutMs 1.5', { idleTimeoutMs: 1.5 }, 'invalid idleTimeoutMs 1.5: expected a whole number >= 1'],
    [
      'reservedConnections without maxConnections',
      { reservedConnections: 2 },
      'invalid reservedConnections 2: reserves slots of maxConnections, which is not set',
    ],
    [
      'reservedConnections as many as maxConnections',
      { maxConnections: 2, reservedConnections: 2 },
      'invalid reservedConnections 2: expected fewer than maxConnections (2)',
    ],
  ];
  for (const [what, options, message] of cases) {
    it(`${what}: refused with a message naming it`, () => {
      const make = () => createPeerServer({ ...options, logger: { info() {}, warn() {}, error() {} } });
      expect(make).toThrow(InvalidServerOptionError);
      expect(make).toThrow(message);
    });
  }
});
