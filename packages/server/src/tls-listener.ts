// The mutual-TLS transport: a tls.Server on host:port that asks every client for a certificate, presents the
// server's own X.509-SVID, and hands each finished handshake to admission. OpenSSL validates the client's
// path during the handshake against the authorities of every configured bundle (the context's `ca`); the
// handshake goes on whatever its verdict (rejectUnauthorized: false) so that admission can refuse with an
// audit line: verifyPeerSvid takes OpenSSL's verdict and adds the SPIFFE rules, among them that the path
// ends at an authority of the leaf's own trust domain, against the bundles in service at that moment.
import { constants } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { TrustBundleSet } from '@peerauth/identity';
import type { PeerLogger } from './logger.js';
import { type ServerSvid, TlsFiles } from './tls-files.js';
import { HandshakeGate, RefusalLog } from './tls-gate.js';
import { WorkloadMaterial } from './tls-workload.js';

export interface TlsListenOptions {
  /** Address to listen on: '127.0.0.1', '::', a host name. Required: a listener for other machines is a choice. */
  host: string;
  /** TCP port; 0 picks a free one (see tlsAddress()). */
  port: number;
  /** PEM file with the server's SVID, leaf first, then any intermediates (spiffe-helper's svid.pem). */
  certFile?: string;
  /** PEM file with the SVID's private key (spiffe-helper's svid_key.pem). */
  keyFile?: string;
  /**
   * The SPIRE agent's SPIFFE Workload API socket (`/run/spire/agent/public/api.sock`, `unix:///path`):
   * the server's SVID and every trust domain's bundle come from it, instead of certFile, keyFile and the
   * config's bundle files. Needs the package @peerauth/workload-api.
   */
  workloadApi?: string;
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

/** Where the SVID and bundles come from: files (reloaded on change), or the agent's Workload API stream. */
export type TlsMaterialSource =
  | {
      kind: 'files';
      certFile: string;
      keyFile: string;
      pollMs: number;
      /** Trust domain → bundle file, from the identity config's trustDomains. */
      bundleFiles: ReadonlyMap<string, string>;
    }
  | { kind: 'workload-api'; endpoint: string; trustDomains: readonly string[] };

export interface ParsedTlsOptions {
  host: string;
  port: number;
  maxPendingHandshakes: number;
  handshakeTimeoutMs: number;
  material: TlsMaterialSource;
}

/** What the listener needs of its material, whichever source it is (TlsFiles, WorkloadMaterial). */
export interface TlsMaterial {
  /** The first read: the SVID to serve; rejects when the listener cannot start. */
  load(): Promise<ServerSvid>;
  /** Follow changes until close(): a new SVID goes to onSvid, a new bundle set to onBundles. */
  watch(): void;
  /** The bundles in service, by trust domain, read at each handshake. */
  readonly bundles: TrustBundleSet;
  close(): void;
}

// Refusals logged one line each per window, the rest summed up: at most ~2 lines a second under a flood.
const REFUSALS_PER_WINDOW = 20;
const REFUSAL_WINDOW_MS = 10_000;
const SETTLE_MS = 100;

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
  readonly material: TlsMaterial;
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
    const onSvid = (svid: ServerSvid) => {
      this.svid = svid;
      this.server.setSecureContext(this.contextOptions());
    };
    // OpenSSL validates against the context's `ca`, so a changed bundle set means a new context.
    const onBundles = () => {
      if (this.svid) this.server.setSecureContext(this.contextOptions());
    };
    const source = options.material;
    this.material =
      source.kind === 'files'
        ? new TlsFiles({ ...source, logger, settleMs: SETTLE_MS, onSvid, onBundles })
        : new WorkloadMaterial({ ...source, logger, onSvid, onBundles });
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
      ca: trustedAuthorities(this.material?.bundles ?? new Map()),
      minVersion: 'TLSv1.2',
      // No session tickets: a resumed session carries no client chain to verify again, and every
      // connection's identity is decided from the certificates of its own handshake. No renegotiation
      // (TLS 1.2): a second handshake could bring another client certificate than the one admission
      // verified, and the socket would then report that one; the verified certificate stays for the
      // connection's life.
      secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION,
    };
  }

  /**
   * Read the material (every file must be usable; the agent must send an SVID), then listen. Rejects with
   * TlsMaterialError, the Workload API's error, or the listen error.
   */
  async listen(backlog: number | undefined): Promise<ServerSvid> {
    let svid: ServerSvid;
    try {
      svid = await this.material.load();
    } catch (err) {
      this.material.close();
      throw err;
    }
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
    this.material.watch();
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
    this.material.close();
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
