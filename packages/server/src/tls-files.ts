// The TLS listener's files: the server's own X.509-SVID (certificate chain and key) and one X.509 bundle per
// trust domain, as SPIRE's spiffe-helper writes and rotates them (SVIDs live about an hour). They are read
// again whenever something changes in their directories (inotify/FSEvents through fs.watch, which also sees
// a rename into place or a Kubernetes-style symlink swap) and on a slow timer for events a watcher missed.
// A new file is taken only once it is whole and valid: a half-written certificate, a key that does not match
// yet, an unreadable bundle keep the previous material in service, with a warning naming the file.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { certificateSpiffeId, loadBundle, type TrustBundle, type TrustBundleSet } from '@peerauth/identity';
import { TlsMaterialError } from './errors.js';
import type { PeerLogger } from './logger.js';
import { keyModeWarning, mergedBundleWarning } from './tls-check.js';

/** The server's own SVID as it is served: what setSecureContext takes, and what the log says about it. */
export interface ServerSvid {
  cert: string;
  key: string;
  /** The leaf's SPIFFE ID (its one URI SAN, read as identity's certificateSpiffeId reads it), or null. */
  spiffeId: string | null;
  validTo: string;
}

export interface TlsFilesOptions {
  certFile: string;
  keyFile: string;
  /** Trust domain → bundle file. */
  bundleFiles: ReadonlyMap<string, string>;
  logger: PeerLogger;
  /** A new, valid SVID was read: put it in service (existing connections keep theirs). */
  onSvid: (svid: ServerSvid) => void;
  /** A bundle was replaced by a new, valid one; `bundles` already holds it. */
  onBundles?: (bundles: TrustBundleSet) => void;
  /** How often the files are read again besides change events. */
  pollMs: number;
  /** Change events within this window are one reload (a writer's cert and key, a rename after a write). */
  settleMs: number;
}

// Certificates, keys and bundles are a few KiB; a bound keeps a wrong path (a log file) from being slurped.
const MAX_FILE_BYTES = 1 << 20;

async function readText(file: string): Promise<string> {
  let text: string;
  try {
    const buf = await fs.promises.readFile(file);
    if (buf.length > MAX_FILE_BYTES) throw new TlsMaterialError(file, `larger than ${MAX_FILE_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof TlsMaterialError) throw err;
    throw new TlsMaterialError(file, `cannot read (${(err as Error).message})`, { cause: err });
  }
  return text;
}

/** The server's certificate chain and key, checked as a pair the way a TLS handshake will use them. */
export function parseServerSvid(
  certFile: string,
  cert: string,
  keyFile: string,
  key: string,
  now = new Date(),
): ServerSvid {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new TlsMaterialError(certFile, 'holds no PEM certificate that parses', { cause: err });
  }
  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  if (now.getTime() < from)
    throw new TlsMaterialError(certFile, `the certificate is not valid before ${leaf.validFrom}`);
  if (now.getTime() > to) throw new TlsMaterialError(certFile, `the certificate expired ${leaf.validTo}`);
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's "key values mismatch" or an unparsable key: name the key file, which is the usual culprit.
    throw new TlsMaterialError(
      keyFile,
      `does not go with the certificate in ${certFile} (${(err as Error).message})`,
      { cause: err },
    );
  }
  return { cert, key, spiffeId: certificateSpiffeId(leaf), validTo: leaf.validTo };
}

function parseBundle(trustDomain: string, file: string, pem: string): TrustBundle {
  try {
    return loadBundle(trustDomain, pem);
  } catch (err) {
    throw new TlsMaterialError(file, (err as Error).message, { cause: err });
  }
}

/** Reads, validates, watches and reloads the files; `bundles` and the SVID given to onSvid are always whole. */
export class TlsFiles {
  private readonly options: TlsFilesOptions;
  private svidText = '';
  private readonly bundleText = new Map<string, string>();
  private readonly current = new Map<string, TrustBundle>();
  /** The last refusal logged per file, so a file that stays broken is reported once, not every poll. */
  private readonly reported = new Map<string, string>();
  private watchers: fs.FSWatcher[] = [];
  private poll: NodeJS.Timeout | null = null;
  private settle: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(options: TlsFilesOptions) {
    this.options = options;
  }

  /** The bundles in service, by trust domain. */
  get bundles(): TrustBundleSet {
    return this.current;
  }

  /** The first read: every file must be usable, or the listener does not start. */
  async load(): Promise<ServerSvid> {
    const { certFile, keyFile, bundleFiles } = this.options;
    this.closed = false;
    const [cert, key] = await Promise.all([readText(certFile), readText(keyFile)]);
    const svid = parseServerSvid(certFile, cert, keyFile, key);
    const bundles = await Promise.all(
      [...bundleFiles].map(async ([trustDomain, file]) => {
        const pem = await readText(file);
        return [trustDomain, pem, parseBundle(trustDomain, file, pem)] as const;
      }),
    );
    this.svidText = cert + key;
    for (const [trustDomain, pem, bundle] of bundles) {
      this.bundleText.set(trustDomain, pem);
      this.current.set(trustDomain, bundle);
      this.warnMerged(trustDomain, bundleFiles.get(trustDomain)!, pem);
    }
    const mode = keyModeWarning(keyFile);
    if (mode) this.options.logger.warn({ file: keyFile }, `TLS key file ${keyFile}: ${mode}`);
    return svid;
  }

  /** Start following changes; close() stops. */
  watch(): void {
    const { certFile, keyFile, bundleFiles } = this.options;
    const dirs = new Set(
      [certFile, keyFile, ...bundleFiles.values()].map((f) => path.dirname(path.resolve(f))),
    );
    for (const dir of dirs) {
      try {
        const watcher = fs.watch(dir, { persistent: false }, () => this.changed());
        watcher.on('error', (err) => {
          this.options.logger.warn({ dir, err }, 'cannot watch a TLS file directory; polling only');
          watcher.close();
        });
        this.watchers.push(watcher);
      } catch (err) {
        this.options.logger.warn({ dir, err }, 'cannot watch a TLS file directory; polling only');
      }
    }
    this.poll = setInterval(() => void this.reload(), this.options.pollMs);
    this.poll.unref();
  }

  private changed(): void {
    if (this.closed) return;
    if (this.settle) clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      this.settle = null;
      void this.reload();
    }, this.options.settleMs);
    this.settle.unref();
  }

  /** Read every file again and put in service what changed and is valid. Never throws. */
  reload(): Promise<void> {
    if (this.reloading) {
      // A change during a reload may have been read half-way: read once more after it.
      this.again = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = null;
      if (this.again && !this.closed) {
        this.again = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    const { certFile, keyFile, bundleFiles, logger } = this.options;
    await this.attempt(certFile, async () => {
      const [cert, key] = await Promise.all([readText(certFile), readText(keyFile)]);
      if (cert + key === this.svidText) return;
      const svid = parseServerSvid(certFile, cert, keyFile, key);
      if (this.closed) return;
      this.options.onSvid(svid);
      this.svidText = cert + key;
      logger.info(
        { file: certFile, spiffeId: svid.spiffeId, validTo: svid.validTo },
        'reloaded the server SVID',
      );
    });
    for (const [trustDomain, file] of bundleFiles) {
      await this.attempt(file, async () => {
        const pem = await readText(file);
        if (pem === this.bundleText.get(trustDomain)) return;
        const bundle = parseBundle(trustDomain, file, pem);
        if (this.closed) return;
        this.current.set(trustDomain, bundle);
        this.bundleText.set(trustDomain, pem);
        this.options.onBundles?.(this.current);
        this.warnMerged(trustDomain, file, pem);
        logger.info({ file, trustDomain, authorities: bundle.authorities.length }, 'reloaded a trust bundle');
      });
    }
  }

  private warnMerged(trustDomain: string, file: string, pem: string): void {
    const warning = mergedBundleWarning(trustDomain, file, pem);
    if (warning) this.options.logger.warn({ file, trustDomain }, `TLS bundle file ${file}: ${warning}`);
  }

  private async attempt(key: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
      this.reported.delete(key);
    } catch (err) {
      const message = (err as Error).message;
      if (this.reported.get(key) === message) return;
      this.reported.set(key, message);
      const file = err instanceof TlsMaterialError ? err.file : key;
      this.options.logger.warn({ file, err }, 'a changed TLS file cannot be used; keeping the previous one');
    }
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    if (this.poll) clearInterval(this.poll);
    if (this.settle) clearTimeout(this.settle);
    this.poll = null;
    this.settle = null;
  }
}
