// A real TLS client presents an SVID whose subjectAltName holds an entry identity's reader does not know
// (an X400Name, which OpenSSL's printer writes with a digit in its type). It is refused as
// PEERAUTH_SVID_MALFORMED, and the reason in the audit line is the reader's words with the entry quoted
// and cut short, not "Error: subjectAltName text does not parse" as before.
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertFiles,
  createSvidCerts,
  DOMAIN_A,
  type SvidCerts,
} from '../../../test-fixtures/svid-certs.js';
import { issueX400Svid } from '../../../test-fixtures/unreadable-san.js';
import { createPeerServer, type RejectedEvent } from '../src/index.js';
import { makeTempDir, recordingLogger, removeDir, waitFor } from './helpers.js';

let certs: SvidCerts;
let leaf: CertFiles;
beforeAll(() => {
  certs = createSvidCerts();
  leaf = issueX400Svid(certs);
}, 60_000);
afterAll(() => certs?.cleanup());

describe('an SVID with an unreadable subjectAltName entry', () => {
  it('is refused PEERAUTH_SVID_MALFORMED, the audit line naming the entry', async () => {
    const dir = makeTempDir('patls-x400-');
    const logger = recordingLogger();
    const rejected: RejectedEvent[] = [];
    const server = createPeerServer({
      path: path.join(dir, 's.sock'),
      identity: { people: [], trustDomains: { [DOMAIN_A]: { bundle: certs.bundleA } } },
      logger,
      tls: { host: '127.0.0.1', port: 0, certFile: certs.server.cert, keyFile: certs.server.key },
    });
    server.on('rejected', (e: RejectedEvent) => rejected.push(e));
    server.on('peer', (socket) => socket.end('admitted\n'));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(() => resolve());
      });
      const got = await new Promise<string>((resolve) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: server.tlsAddress()!.port,
          ca: certs.rootA.pem,
          cert: fs.readFileSync(leaf.cert),
          key: fs.readFileSync(leaf.key),
          checkServerIdentity: () => undefined,
        });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => {
          text += d;
        });
        // A refusal after the handshake reaches a TLS 1.3 client as a reset or an early close.
        socket.on('error', () => {});
        socket.on('close', () => resolve(text));
      });
      expect(got).toBe('');
      await waitFor(() => rejected.length === 1);
      const reason =
        'PEERAUTH_SVID_MALFORMED: X.509-SVID refused: subjectAltName entry "X400Name:<unsupported>" does not parse';
      expect(rejected[0]!.reason).toContain(reason);
      const audit = logger.records.find(
        (r) => r.obj.event === 'peerauth.connection' && r.obj.decision === 'rejected',
      );
      expect(String(audit?.obj.reason)).toContain(reason);
      expect(String(audit?.obj.reason)).not.toContain('Error:');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      removeDir(dir);
    }
  });
});
