// The mutual-TLS transport: a tls.Server on host:port that asks every client for a certificate, presents the
// server's own X.509-SVID, and hands each finished handshake to admission. OpenSSL validates the client's
// path during the handshake against the authorities of every configured bundle (the context's `ca`); the
// handshake goes on whatever its verdict (rejectUnauthorized: false) so that admission can refuse with an
// audit line: verifyPeerSvid takes OpenSSL's verdict and adds the SPIFFE rules, among them that the path
// ends at an authority of the leaf's own trust domain, against the bundles in service at that moment.
import { constants } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { ParsedIdentityConfig, TrustBundleSet } from '@peerauth/identity';
import { InvalidServerOptionError } from './errors.js';
import type { PeerLogger } from './logger.js';
import { type ServerSvid, TlsFiles } from './tls-files.js';
import { HandshakeGate, RefusalLog } from './tls-gate.js';

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
  /**
   * Most TLS connections whose handshake is under way at once; a connection beyond it is closed at accept,
   * before any TLS work. Counted apart from maxConnections (which counts admitted peers). Default 64.
   */
  maxPendingHandshakes?: number;
  /** A client that has not finished its handshake by then is dropped, in ms. Default 10000. */
  handshakeTimeoutMs?: number;
}

export interface ParsedTlsOptions {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  pollMs: number;
  maxPendingHandshakes: number;
  handshakeTimeoutMs: number;
  /** Trust domain → bundle file, from the identity config's trustDomains. */
  bundleFiles: ReadonlyMap<string, string>;
}

// Long enough for a slow network, short enough that a client which never finishes its handshake does not
// hold a descriptor (or a shutdown) for Node's default two minutes.
const HANDSHAKE_TIMEOUT_MS = 10_000;
// Far below the default descriptor limit (1024) and enough for bursts of honest clients: a handshake takes
// milliseconds, so 64 at once is hundreds per second.
const MAX_PENDING_HANDSHAKES = 64;
// Refusals logged one line each per window, the rest summed up: at most ~2 lines a second under a flood.
const REFUSALS_PER_WINDOW = 20;
const REFUSAL_WINDOW_MS = 10_000;
const SETTLE_MS = 100;

function wholeAtLeast(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new InvalidServerOptionError(option, value, `expected a whole number >= ${min}`);
  return value;
}

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
    maxPendingHandshakes: wholeAtLeast(
      'tls.maxPendingHandshakes',
      given.maxPendingHandshakes,
      MAX_PENDING_HANDSHAKES,
      1,
    ),
    handshakeTimeoutMs: wholeAtLeast(
      'tls.handshakeTimeoutMs',
      given.handshakeTimeoutMs,
      HANDSHAKE_TIMEOUT_MS,
      100,
    ),
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
  /** Accepts TCP connections and passes those within maxPendingHandshakes on to `server`. */
  readonly tcp: net.Server;
  /** Runs the handshakes of the connections `tcp` passes on (it never listens itself). */
  readonly server: tls.Server;
  readonly files: TlsFiles;
  private readonly options: ParsedTlsOptions;
  private readonly gate: HandshakeGate;
  private readonly refusals: RefusalLog;
  private closing: Promise<void> | null = null;
  private svid: ServerSvid | null = null;

  constructor(
    options: ParsedTlsOptions,
    logger: PeerLogger,
    allowHalfOpen: boolean,
    events: TlsListenerEvents,
  ) {
    this.options = options;
    this.gate = new HandshakeGate(options.maxPendingHandshakes);
    this.refusals = new RefusalLog(logger, REFUSALS_PER_WINDOW, REFUSAL_WINDOW_MS);
    this.server = tls.createServer({
      requestCert: true,
      rejectUnauthorized: false,
      allowHalfOpen,
      handshakeTimeout: options.handshakeTimeoutMs,
      ...this.contextOptions(),
    });
    this.tcp = net.createServer({ allowHalfOpen }, (raw) => this.accepted(raw, logger));
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
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.gate.secured(socket);
      events.secure(socket);
    });
    this.server.on('tlsClientError', (err, socket) => {
      // Each failed handshake is refused; only so many a window get their own audit line.
      if (this.refusals.take('handshakeFailed')) events.handshakeFailed(err, socket);
      else socket.destroy();
    });
    // While listen() is under way its own listener takes the error (and start() reports it once).
    this.tcp.on('error', (err) => {
      if (this.tcp.listening) events.error(err);
    });
  }

  /** The number of TLS connections whose handshake is under way. */
  get pendingHandshakes(): number {
    return this.gate.pending;
  }

  private accepted(raw: net.Socket, logger: PeerLogger): void {
    // A reset before the handshake starts (or after a refusal) must not become an uncaught error.
    raw.on('error', () => {});
    if (this.gate.admit(raw)) {
      // The documented way to hand a tls.Server a connection it did not accept itself.
      this.server.emit('connection', raw);
      return;
    }
    if (this.refusals.take('overLimit')) {
      logger.warn(
        {
          event: 'peerauth.tls.refused',
          remoteAddress: `${raw.remoteAddress}:${raw.remotePort}`,
          maxPendingHandshakes: this.gate.max,
        },
        `TLS connection refused: ${this.gate.max} handshakes already under way (tls.maxPendingHandshakes)`,
      );
    }
    raw.destroy();
  }

  private contextOptions(): tls.SecureContextOptions {
    const { svid } = this;
    return {
      ...(svid ? { cert: svid.cert, key: svid.key } : {}),
      // Never Node's default roots: an empty list until the bundles are read.
      ca: trustedAuthorities(this.files?.bundles ?? new Map()),
      minVersion: 'TLSv1.2',
      // No session tickets: a resumed session carries no client chain to verify again, and every
      // connection's identity is decided from the certificates of its own handshake. No renegotiation
      // (TLS 1.2): a second handshake could bring another client certificate than the one admission
      // verified, and the socket would then report that one; the verified certificate stays for the
      // connection's life.
      secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION,
    };
  }

  /** Read the files (all must be usable), then listen. Rejects with TlsMaterialError or the listen error. */
  async listen(backlog: number | undefined): Promise<ServerSvid> {
    const svid = await this.files.load();
    this.svid = svid;
    this.server.setSecureContext(this.contextOptions());
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(err);
      this.tcp.once('error', failed);
      this.tcp.listen({ host: this.options.host, port: this.options.port, backlog }, () => {
        this.tcp.off('error', failed);
        resolve();
      });
    });
    this.files.watch();
    return svid;
  }

  get listening(): boolean {
    return this.tcp.listening;
  }

  address(): AddressInfo | null {
    return this.tcp.listening ? (this.tcp.address() as AddressInfo) : null;
  }

  /** Stop accepting; resolves once every TLS connection has ended (net.Server's 'close'). */
  close(): Promise<void> {
    this.files.close();
    this.refusals.close();
    if (this.closing) return this.closing;
    if (!this.tcp.listening) return Promise.resolve();
    this.closing = new Promise((resolve) => {
      this.tcp.close(() => {
        this.closing = null;
        resolve();
      });
    });
    return this.closing;
  }
}
