// serve and proxy's mutual-TLS flags: where to listen, the server's own SVID, and the bundle of each trust
// domain callers may come from. `--bundle` entries join the config's trustDomains (a flag wins over the
// config for the same domain), so the bundles the server verifies against and the domains the resolver
// accepts are always one list. With `--workload-api` the SVID and every bundle come from the SPIRE agent
// instead; `--trust-domain` names the domains callers may come from (joining the config's).
import { IdentityConfigError, type ParsedIdentityConfig, parseIdentityConfig } from '@peerauth/identity';
import { MAX_PENDING_HANDSHAKES_LIMIT, type TlsListenOptions } from '@peerauth/server';
import type { Command } from 'commander';
import { CliError, EXIT_ERROR, EXIT_USAGE } from './exit-codes.js';
import {
  agentSocketValue,
  type BundleFlag,
  bundleValue,
  collect,
  invalidFlagValue,
  listenValue,
  wholeNumber,
} from './flag-values.js';

/** As commander gives them: each value already read by its parser (flag-values.ts). */
export interface TlsFlags {
  tlsListen?: { host: string; port: number };
  svidCert?: string;
  svidKey?: string;
  bundle?: BundleFlag[];
  workloadApi?: string;
  trustDomain?: string[];
  tlsMaxHandshakes?: number;
  tlsHandshakeTimeout?: number;
}

export function addTlsOptions(cmd: Command): Command {
  return cmd
    .option(
      '--tls-listen <host:port>',
      'also accept callers from other machines by mutual TLS (X.509-SVIDs)',
      listenValue,
    )
    .option('--svid-cert <file>', "the server's SVID certificate chain, PEM (spiffe-helper's svid.pem)")
    .option('--svid-key <file>', "the server's SVID private key, PEM (spiffe-helper's svid_key.pem)")
    .option(
      '--bundle <trust-domain=file>',
      "a trust domain callers may come from and its X.509 bundle, PEM (repeatable; spiffe-helper's svid_bundle.pem)",
      bundleValue,
    )
    .option(
      '--workload-api <socket>',
      "take the SVID and every trust domain's bundle from the SPIRE agent's Workload API socket (instead of --svid-cert, --svid-key, --bundle)",
      agentSocketValue,
    )
    .option(
      '--trust-domain <name>',
      "with --workload-api: a trust domain callers may come from (repeatable; joins the config's trustDomains)",
      collect,
    )
    .option(
      '--tls-max-handshakes <n>',
      `most TLS handshakes under way at once, at most ${MAX_PENDING_HANDSHAKES_LIMIT}; more connections are closed at accept (default: 64)`,
      maxHandshakesValue,
    )
    .option(
      '--tls-handshake-timeout <ms>',
      'a TLS client that has not finished its handshake by then is dropped (default: 10000)',
      wholeNumber('--tls-handshake-timeout', 100),
    );
}

/** `--tls-max-handshakes N`: the server's tls.maxPendingHandshakes, refused here by its range, naming the flag. */
function maxHandshakesValue(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_PENDING_HANDSHAKES_LIMIT)
    throw invalidFlagValue(
      `--tls-max-handshakes must be a whole number from 1 to ${MAX_PENDING_HANDSHAKES_LIMIT}, got "${value}"`,
      EXIT_ERROR,
    );
  return n;
}

function parseBundles(values: BundleFlag[]): Record<string, { bundle: string }> {
  const out: Record<string, { bundle: string }> = {};
  for (const { trustDomain, file } of values) {
    if (Object.hasOwn(out, trustDomain))
      throw invalidFlagValue(`--bundle names trust domain "${trustDomain}" twice`, EXIT_USAGE);
    out[trustDomain] = { bundle: file };
  }
  return out;
}

/**
 * The TLS listener's settings and the config with the `--bundle` domains in its trustDomains; no TLS (and
 * the config unchanged) without the flags. Every flag without --tls-listen, and --tls-listen without the
 * SVID or any trust domain, is a usage error rather than a listener that could never admit anyone.
 */
export function tlsSettings(
  flags: TlsFlags,
  config: ParsedIdentityConfig,
): { tls: TlsListenOptions | undefined; config: ParsedIdentityConfig } {
  const bundles = parseBundles(flags.bundle ?? []);
  if (flags.tlsListen === undefined) {
    const stray = [
      flags.svidCert !== undefined && '--svid-cert',
      flags.svidKey !== undefined && '--svid-key',
      flags.bundle?.length && '--bundle',
      flags.workloadApi !== undefined && '--workload-api',
      flags.trustDomain?.length && '--trust-domain',
      flags.tlsMaxHandshakes !== undefined && '--tls-max-handshakes',
      flags.tlsHandshakeTimeout !== undefined && '--tls-handshake-timeout',
    ].filter(Boolean);
    if (stray.length) throw invalidFlagValue(`${stray.join(', ')} need --tls-listen HOST:PORT`, EXIT_USAGE);
    return { tls: undefined, config };
  }
  const { host, port } = flags.tlsListen;
  const maxPendingHandshakes = flags.tlsMaxHandshakes;
  const handshakeTimeoutMs = flags.tlsHandshakeTimeout;
  const limits = {
    ...(maxPendingHandshakes === undefined ? {} : { maxPendingHandshakes }),
    ...(handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs }),
  };
  if (flags.workloadApi !== undefined) {
    const settings = workloadApiSettings(flags, flags.workloadApi, host, port, config);
    return { tls: { ...settings.tls, ...limits }, config: settings.config };
  }
  if (flags.trustDomain?.length)
    throw invalidFlagValue(
      '--trust-domain goes with --workload-api; with files, use --bundle TRUST_DOMAIN=FILE',
      EXIT_USAGE,
    );
  if (flags.svidCert === undefined || flags.svidKey === undefined)
    throw invalidFlagValue(
      "--tls-listen needs the server's SVID: --svid-cert FILE and --svid-key FILE, or --workload-api SOCKET",
      EXIT_USAGE,
    );
  const merged = Object.keys(bundles).length ? withTrustDomains(config, bundles, '--bundle') : config;
  if (Object.keys(merged.trustDomains).length === 0)
    throw invalidFlagValue(
      '--tls-listen needs at least one trust domain to accept callers from: --bundle TRUST_DOMAIN=FILE, or trustDomains in the config',
      EXIT_USAGE,
    );
  return { tls: { host, port, certFile: flags.svidCert, keyFile: flags.svidKey, ...limits }, config: merged };
}

function withTrustDomains(
  config: ParsedIdentityConfig,
  added: Record<string, { bundle?: string }>,
  flag: string,
): ParsedIdentityConfig {
  try {
    return parseIdentityConfig({ ...config, trustDomains: { ...config.trustDomains, ...added } });
  } catch (err) {
    if (!(err instanceof IdentityConfigError)) throw err;
    // The only new input is the flag's values: a bad trust domain is what the problem is about.
    throw new CliError(`${flag}: ${err.message}`, EXIT_ERROR, err);
  }
}

/**
 * --workload-api: the agent sends the SVID and every bundle, so the file flags make no sense beside it, and
 * the config's trustDomains (plus --trust-domain) only say which domains callers may come from: a bundle
 * file there would be a second source for the same domain, which the server refuses.
 */
function workloadApiSettings(
  flags: TlsFlags,
  socket: string,
  host: string,
  port: number,
  config: ParsedIdentityConfig,
): { tls: TlsListenOptions; config: ParsedIdentityConfig } {
  const files = [
    flags.svidCert !== undefined && '--svid-cert',
    flags.svidKey !== undefined && '--svid-key',
    flags.bundle?.length && '--bundle',
  ].filter(Boolean);
  if (files.length)
    throw invalidFlagValue(
      `--workload-api takes the SVID and bundles from the agent: leave out ${files.join(', ')}`,
      EXIT_USAGE,
    );
  const named = flags.trustDomain ?? [];
  const duplicate = named.find((td, i) => named.indexOf(td) !== i);
  if (duplicate !== undefined)
    throw invalidFlagValue(`--trust-domain names trust domain "${duplicate}" twice`, EXIT_USAGE);
  const merged = named.length
    ? withTrustDomains(config, Object.fromEntries(named.map((td) => [td, {}])), '--trust-domain')
    : config;
  if (Object.keys(merged.trustDomains).length === 0)
    throw invalidFlagValue(
      '--workload-api needs at least one trust domain to accept callers from: --trust-domain NAME (repeatable), or trustDomains in the config',
      EXIT_USAGE,
    );
  const withFile = Object.entries(merged.trustDomains)
    .filter(([, d]) => d.bundle !== undefined)
    .map(([td]) => td);
  if (withFile.length)
    throw invalidFlagValue(
      `--workload-api takes every bundle from the agent, but the config gives a bundle file for ${withFile.join(', ')}: ` +
        'write { } for each of its trustDomains',
      EXIT_USAGE,
    );
  return { tls: { host, port, workloadApi: socket }, config: merged };
}
