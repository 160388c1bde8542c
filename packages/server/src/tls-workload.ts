// The TLS listener's material from the SPIFFE Workload API instead of files: the SPIRE agent streams the
// server's X.509-SVID and every trust domain's bundle (own and federated, each apart) through
// @peerauth/workload-api's X509Source. A rotated SVID goes into service through onSvid (the next handshake
// presents it); the bundles are read from the source at each handshake, so a new or removed federated
// domain decides the next connection. While the agent is away the last material stays in service.
import type { TrustBundleSet } from '@peerauth/identity';
import type { X509Source, X509Svid } from '@peerauth/workload-api';
import { InvalidServerOptionError } from './errors.js';
import type { PeerLogger } from './logger.js';
import { parseServerSvid, type ServerSvid } from './tls-files.js';

export interface WorkloadMaterialOptions {
  /** The agent's socket: an absolute path, `unix:///path`, or `tcp://IP:PORT`. */
  endpoint: string;
  /** The config's trustDomains: a warning names any the agent holds no bundle for. */
  trustDomains: readonly string[];
  logger: PeerLogger;
  /** A new SVID from the agent: put it in service (existing connections keep theirs). */
  onSvid: (svid: ServerSvid) => void;
  /** The agent sent another set of bundles: the listener rebuilds the authorities OpenSSL validates against. */
  onBundles: () => void;
}

const NO_BUNDLES: TrustBundleSet = new Map();

/** The optional peer dependency, loaded only when a server asks for the Workload API. */
async function loadClient(endpoint: string): Promise<typeof import('@peerauth/workload-api')> {
  try {
    return await import('@peerauth/workload-api');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new InvalidServerOptionError(
      'tls.workloadApi',
      endpoint,
      'needs the package @peerauth/workload-api next to @peerauth/server: npm install @peerauth/workload-api',
    );
  }
}

export class WorkloadMaterial {
  private readonly options: WorkloadMaterialOptions;
  private source: X509Source | null = null;
  private served = '';
  private domains = '';
  /** The bundle set the listener's context was last built from (load() returns before the context is built). */
  private inService: TrustBundleSet = NO_BUNDLES;

  constructor(options: WorkloadMaterialOptions) {
    this.options = options;
  }

  /** The bundles the agent sent last, by trust domain (X509Bundle has TrustBundle's shape). */
  get bundles(): TrustBundleSet {
    return this.source?.bundles ?? NO_BUNDLES;
  }

  /** Waits for the agent's first SVID (the source's readyTimeoutMs); rejects with its WorkloadApiError. */
  async load(): Promise<ServerSvid> {
    const { createX509Source } = await loadClient(this.options.endpoint);
    const source = createX509Source({ endpoint: this.options.endpoint });
    this.source = source;
    // From the first attempt on: while the start waits for the agent, the log says why it is waiting.
    source.on('error', (err) =>
      this.options.logger.warn(
        { endpoint: this.options.endpoint, err },
        'Workload API problem; the SVID and bundles in service stay until it recovers',
      ),
    );
    const { svid } = await source.ready;
    const served = this.serverSvid(svid);
    this.served = svid.certificatePem;
    this.inService = this.bundles;
    this.checkDomains();
    return served;
  }

  watch(): void {
    const source = this.source;
    if (!source) return;
    // What arrived between load() and now (the listen in between) had no listener yet.
    this.followBundles();
    this.followSvid(source.getSvid());
    source.on('update', ({ svid }) => {
      this.checkDomains();
      this.followBundles();
      this.followSvid(svid);
    });
  }

  /** An SVID other than the one served: check it and put it in service, or keep the previous one. */
  private followSvid(svid: X509Svid): void {
    if (svid.certificatePem === this.served) return;
    const { logger, endpoint } = this.options;
    let next: ServerSvid;
    try {
      next = this.serverSvid(svid);
    } catch (err) {
      logger.warn(
        { endpoint, err },
        'an SVID from the Workload API cannot be used; keeping the previous one',
      );
      return;
    }
    this.options.onSvid(next);
    this.served = svid.certificatePem;
    logger.info(
      { endpoint, spiffeId: next.spiffeId, validTo: next.validTo },
      'the Workload API rotated the server SVID',
    );
  }

  /** A bundle set other than the one the listener's context holds: have the listener rebuild it. */
  private followBundles(): void {
    if (this.bundles === this.inService) return;
    this.inService = this.bundles;
    this.options.onBundles();
  }

  close(): void {
    this.source?.close();
  }

  /** Checked as a served pair the way the file path checks it (dates, key and certificate together). */
  private serverSvid(svid: X509Svid): ServerSvid {
    const from = `Workload API ${this.options.endpoint}`;
    return parseServerSvid(from, svid.certificatePem, from, svid.privateKeyPem);
  }

  /** Says once per change which of the config's trust domains the agent holds no bundle for. */
  private checkDomains(): void {
    const held = this.bundles;
    const missing = this.options.trustDomains.filter((td) => !held.has(td));
    const now = `${[...held.keys()].join(',')}|${missing.join(',')}`;
    if (now === this.domains) return;
    this.domains = now;
    const { logger, endpoint } = this.options;
    logger.info({ endpoint, trustDomains: [...held.keys()] }, 'trust bundles from the Workload API');
    if (missing.length)
      logger.warn(
        { endpoint, trustDomains: missing },
        'the config accepts callers from trust domains the agent holds no bundle for; their callers are refused until it does',
      );
  }
}
