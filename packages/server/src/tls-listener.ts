// The mutual-TLS transport: a tls.Server on host:port that asks every client for a certificate, presents the
// server's own X.509-SVID, and hands each finished handshake to admission. OpenSSL validates the client's
// path during the handshake against the authorities of every configured bundle (the context's `ca`); the
// handshake goes on whatever its verdict (rejectUnauthorized: false) so that admission can refuse with an
// audit line: verifyPeerSvid takes OpenSSL's verdict and adds the SPIFFE rules, among them that the path
// ends at an authority of the leaf's own trust domain, against the bundles in service at that moment.
import { constants } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { ParsedIdentityConfig } from '@peerauth/identity';
import { InvalidServerOptionError } from './errors.js';
import type { PeerLogger } from './logger.js';
import type { TrustBundleSet } from '@peerauth/identity';
import { type ServerSvid, TlsFiles } from './tls-files.js';

export interface TlsListenOptions {
  /** Address to listen on: '127.0.0.1', '::', a host name. Required: a listener for other machines is a choice. */
  host: string;
  /** TCP port; 0 picks a free one (see tlsAddress()). */
  port: number;
  /** PEM file with the server's SVID, leaf first, then any intermediates (spiffe-helper's svid.pem). */
  certFile: string;
  /** PEM file with the SVID's private key (spiffe-helper's svid_key.pem). */
  keyFile: string;
  /** How often the files are read again besides change events, in ms. Default 60000. */
  pollMs?: number;
}

export interface ParsedTlsOptions {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  pollMs: number;
  /** Trust domain → bundle file, from the identity config's trustDomains. */
  bundleFiles: ReadonlyMap<string, string>;
}

// Long enough for a slow network, short enough that a client which never finishes its handshake does not
// hold a shutdown for Node's default two minutes.
const HANDSHAKE_TIMEOUT_MS = 10_000;
const SETTLE_MS = 100;

function nonEmptyString(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidServerOptionError(option, value, 'expected a non-empty string');
  return value;
}

/** The tls option as given, with the bundle files of the config's trustDomains (relative paths from the cwd). */
export function parseTlsOptions(value: unknown, config: ParsedIdentityConfig): ParsedTlsOptions {
  if (typeof value !== 'object' || value === null)
    throw new InvalidServerOptionError('tls', value, 'expected { host, port, certFile, keyFile }');
  const given = value as Record<string, unknown>;
  const host = nonEmptyString('tls.host', given.host);
  const port = given.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidServerOptionError('tls.port', port, 'expected a whole number from 0 to 65535');
  const pollMs = given.pollMs ?? 60_000;
  if (typeof pollMs !== 'number' || !Number.isFinite(pollMs) || pollMs < 10)
    throw new InvalidServerOptionError('tls.pollMs', pollMs, 'expected a number of milliseconds >= 10');
  const domains = Object.entries(config.trustDomains);
  if (domains.length === 0) {
    throw new InvalidServerOptionError(
      'tls',
      { host, port },
      'the identity config names no trustDomains, so no client certificate could ever be verified; add ' +
        '"trustDomains": { "<trust domain>": { "bundle": "<PEM file>" } }',
    );
  }
  return {
    host,
    port,
    certFile: path.resolve(nonEmptyString('tls.certFile', given.certFile)),
    keyFile: path.resolve(nonEmptyString('tls.keyFile', given.keyFile)),
    pollMs,
    bundleFiles: new Map(domains.map(([td, { bundle }]) => [td, path.resolve(bundle)])),
  };
}

/** Every authority of every bundle once, as PEM: what OpenSSL validates client paths against. */
export function trustedAuthorities(bundles: TrustBundleSet): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const { authorities } of bundles.values()) {
    for (const a of authorities) {
      if (seen.has(a.fingerprint256)) continue;
      seen.add(a.fingerprint256);
      out.push(a.toString());
    }
  }
  return out;
}

export interface TlsListenerEvents {
  /** A finished handshake: admission verifies `socket`'s chain against `bundles()`. */
  secure: (socket: tls.TLSSocket) => void;
  /** A client whose handshake failed (no common protocol, a bad signature, a timeout). */
  handshakeFailed: (err: Error, socket: tls.TLSSocket) => void;
  error: (err: Error) => void;
}

export class TlsListener {
  readonly server: tls.Server;
  readonly files: TlsFiles;
  private readonly options: ParsedTlsOptions;
  private closing: Promise<void> | null = null;
  private svid: ServerSvid | null = null;

  constructor(
    options: ParsedTlsOptions,
    logger: PeerLogger,
    allowHalfOpen: boolean,
    events: TlsListenerEvents,
  ) {
    this.options = options;
    this.server = tls.createServer({
      requestCert: true,
      rejectUnauthorized: false,
      allowHalfOpen,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...this.contextOptions(),
    });
    this.files = new TlsFiles({
      certFile: options.certFile,
      keyFile: options.keyFile,
      bundleFiles: options.bundleFiles,
      logger,
      pollMs: options.pollMs,
      settleMs: SETTLE_MS,
      onSvid: (svid) => {
        this.svid = svid;
        this.server.setSecureContext(this.contextOptions());
      },
      onBundles: () => {
        if (this.svid) this.server.setSecureContext(this.contextOptions());
      },
    });
    this.server.on('secureConnection', events.secure);
    this.server.on('tlsClientError', events.handshakeFailed);
    // While listen() is under way its own listener takes the error (and start() reports it once).
    this.server.on('error', (err) => {
      if (this.server.listening) events.error(err);
    });
  }

  private contextOptions(): tls.SecureContextOptions {
    const { svid } = this;
    return {
      ...(svid ? { cert: svid.cert, key: svid.key } : {}),
      // Never Node's default roots: an empty list until the bundles are read.
      ca: trustedAuthorities(this.files?.bundles ?? new Map()),
      minVersion: 'TLSv1.2',
      // No session tickets: a resumed session carries no client chain to verify again, and every
      // connection's identity is decided from the certificates of its own handshake.
      secureOptions: constants.SSL_OP_NO_TICKET,
    };
  }

  /** Read the files (all must be usable), then listen. Rejects with TlsMaterialError or the listen error. */
  async listen(backlog: number | undefined): Promise<ServerSvid> {
    const svid = await this.files.load();
    this.svid = svid;
    this.server.setSecureContext(this.contextOptions());
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(err);
      this.server.once('error', failed);
      this.server.listen({ host: this.options.host, port: this.options.port, backlog }, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    this.files.watch();
    return svid;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  address(): AddressInfo | null {
    return this.server.listening ? (this.server.address() as AddressInfo) : null;
  }

  /** Stop accepting; resolves once every TLS connection has ended (net.Server's 'close'). */
  close(): Promise<void> {
    this.files.close();
    if (this.closing) return this.closing;
    if (!this.server.listening) return Promise.resolve();
    this.closing = new Promise((resolve) => {
      this.server.close(() => {
        this.closing = null;
        resolve();
      });
    });
    return this.closing;
  }
}
