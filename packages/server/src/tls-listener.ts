// The mutual-TLS transport: a tls.Server on host:port that asks every client for a certificate, presents the
// server's own X.509-SVID, and hands each finished handshake to admission with the chain the client sent.
// The TLS layer itself accepts any client certificate (rejectUnauthorized: false): OpenSSL would check a
// chain against every trusted authority at once, and an SVID must chain to the bundle of its own trust
// domain, so verifySvid decides instead, per connection, against the bundles in service at that moment.
import { constants } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { ParsedIdentityConfig, TrustBundleSet } from '@peerauth/identity';
import { InvalidServerOptionError } from './errors.js';
import type { PeerLogger } from './logger.js';
import { type ServerSvid, TlsFiles } from './tls-files.js';
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
  material: TlsMaterialSource;
}

/** What the listener needs of its material, whichever source it is (TlsFiles, WorkloadMaterial). */
export interface TlsMaterial {
  /** The first read: the SVID to serve; rejects when the listener cannot start. */
  load(): Promise<ServerSvid>;
  /** Follow changes until close(); a new SVID goes to the listener's setSecureContext. */
  watch(): void;
  /** The bundles in service, by trust domain, read at each handshake. */
  readonly bundles: TrustBundleSet;
  close(): void;
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

/**
 * The tls option as given, with the bundle files of the config's trustDomains (relative paths from the cwd),
 * or, with workloadApi, the trust domains whose bundles the agent sends.
 */
export function parseTlsOptions(value: unknown, config: ParsedIdentityConfig): ParsedTlsOptions {
  if (typeof value !== 'object' || value === null)
    throw new InvalidServerOptionError(
      'tls',
      value,
      'expected { host, port, certFile, keyFile } or { host, port, workloadApi }',
    );
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
        '"trustDomains": { "<trust domain>": { "bundle": "<PEM file>" } } (or { } per domain with workloadApi)',
    );
  }
  if (given.workloadApi !== undefined) {
    const endpoint = nonEmptyString('tls.workloadApi', given.workloadApi);
    if (given.certFile !== undefined || given.keyFile !== undefined)
      throw new InvalidServerOptionError(
        'tls.workloadApi',
        endpoint,
        'the SVID comes from the Workload API: give workloadApi, or certFile and keyFile, not both',
      );
    // One source of bundles: a file beside the agent's stream would leave open which one decides.
    const withFile = domains.filter(([, d]) => d.bundle !== undefined).map(([td]) => td);
    if (withFile.length)
      throw new InvalidServerOptionError(
        'tls.workloadApi',
        endpoint,
        `every bundle comes from the Workload API, but the config's trustDomains give a bundle file for ${withFile.join(', ')}: ` +
          'write { } for each trust domain',
      );
    return {
      host,
      port,
      material: { kind: 'workload-api', endpoint, trustDomains: domains.map(([td]) => td) },
    };
  }
  const noFile = domains.filter(([, d]) => d.bundle === undefined).map(([td]) => td);
  if (noFile.length)
    throw new InvalidServerOptionError(
      'tls',
      { host, port },
      `the config's trustDomains give no bundle file for ${noFile.join(', ')}: add "bundle": "<PEM file>", ` +
        'or take every bundle from the SPIRE agent with tls.workloadApi',
    );
  return {
    host,
    port,
    material: {
      kind: 'files',
      certFile: path.resolve(nonEmptyString('tls.certFile', given.certFile)),
      keyFile: path.resolve(nonEmptyString('tls.keyFile', given.keyFile)),
      pollMs,
      bundleFiles: new Map(domains.map(([td, { bundle }]) => [td, path.resolve(bundle!)])),
    },
  };
}

/**
 * The certificates the client sent, leaf first, as DER. Node links them by issuer (and may add an issuer
 * from the context's store); verifySvid re-checks every signature, so only what chains is ever trusted.
 */
export function peerChain(socket: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256) && out.length < 16) {
    seen.add(cert.fingerprint256);
    out.push(cert.raw);
    cert = cert.issuerCertificate;
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
  readonly material: TlsMaterial;
  private readonly options: ParsedTlsOptions;
  private closing: Promise<void> | null = null;

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
      ...this.contextOptions(null),
    });
    const onSvid = (svid: ServerSvid) => this.server.setSecureContext(this.contextOptions(svid));
    const source = options.material;
    this.material =
      source.kind === 'files'
        ? new TlsFiles({ ...source, logger, settleMs: SETTLE_MS, onSvid })
        : new WorkloadMaterial({ ...source, logger, onSvid });
    this.server.on('secureConnection', events.secure);
    this.server.on('tlsClientError', events.handshakeFailed);
    // While listen() is under way its own listener takes the error (and start() reports it once).
    this.server.on('error', (err) => {
      if (this.server.listening) events.error(err);
    });
  }

  private contextOptions(svid: ServerSvid | null): tls.SecureContextOptions {
    return {
      ...(svid ? { cert: svid.cert, key: svid.key } : {}),
      minVersion: 'TLSv1.2',
      // No session tickets: a resumed session carries no client chain to verify again, and every
      // connection's identity is decided from the certificates of its own handshake.
      secureOptions: constants.SSL_OP_NO_TICKET,
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
    this.server.setSecureContext(this.contextOptions(svid));
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => reject(err);
      this.server.once('error', failed);
      this.server.listen({ host: this.options.host, port: this.options.port, backlog }, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    this.material.watch();
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
    this.material.close();
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
