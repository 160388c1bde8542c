// check-config and doctor: the TLS listener's files, each named with what is wrong with it.
import type { ParsedIdentityConfig } from '@peerauth/identity';
import { checkTlsFiles } from '@peerauth/server';
import { EXIT_USAGE } from './exit-codes.js';
import { type BundleFlag, invalidFlagValue } from './flag-values.js';

export interface TlsFileFlags {
  svidCert?: string;
  svidKey?: string;
  bundle?: BundleFlag[];
}

/** The bundle files the server would read: the config's trustDomains, with `--bundle` winning per domain. */
function bundleFiles(flags: TlsFileFlags, config: ParsedIdentityConfig | null): Map<string, string> {
  // A domain without a bundle file takes its bundle from the Workload API: no file to check here.
  const out = new Map<string, string>();
  for (const [td, { bundle }] of Object.entries(config?.trustDomains ?? {}))
    if (bundle !== undefined) out.set(td, bundle);
  for (const { trustDomain, file } of flags.bundle ?? []) out.set(trustDomain, file);
  return out;
}

/**
 * One line per file (`label` first), then a line per problem and warning; false when a file is unusable.
 * Nothing when no TLS file is configured.
 */
export function reportTlsFiles(
  flags: TlsFileFlags,
  config: ParsedIdentityConfig | null,
  label: (use: string) => string,
): { lines: string[]; ok: boolean } {
  if ((flags.svidCert === undefined) !== (flags.svidKey === undefined))
    throw invalidFlagValue('--svid-cert and --svid-key go together', EXIT_USAGE);
  const checks = checkTlsFiles({
    certFile: flags.svidCert,
    keyFile: flags.svidKey,
    bundleFiles: bundleFiles(flags, config),
  });
  const lines: string[] = [];
  let ok = true;
  for (const c of checks) {
    if (c.problems.length) ok = false;
    lines.push(`${label(c.use)}${c.file}: ${c.problems.length ? 'PROBLEM' : `ok, ${c.summary}`}`);
    for (const p of c.problems) lines.push(`  problem: ${p}`);
    for (const w of c.warnings) lines.push(`  warning: ${w}`);
  }
  return { lines, ok };
}
