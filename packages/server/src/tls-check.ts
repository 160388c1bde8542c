// What is wrong with the TLS listener's files, said file by file, for check-config, doctor and the listener's
// own start: each bundle, the SVID and its key are read and parsed as the listener will use them. Problems
// stop the listener (or fail a check); warnings do not: a key that others can read, and a bundle file given
// for one trust domain that holds authorities of others (spiffe-helper's svid_bundle.pem with federated
// domains), where the per-domain rule of the listener would not hold.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { formatError, isPeerAuthError } from '@peerauth/core-native';
import { loadBundle, parseSpiffeId, spiffeIdProblem, uriSans } from '@peerauth/identity';
import { TlsMaterialError } from './errors.js';
import { parseServerSvid } from './tls-files.js';

export interface TlsFileCheck {
  file: string;
  /** What the file is for: 'svid', 'key', or 'bundle <trust domain>'. */
  use: string;
  /** What makes the file unusable; empty when it is usable. */
  problems: string[];
  warnings: string[];
  /** What the file holds, when it is usable ("spiffe://…, valid until …", "2 authorities"). */
  summary: string | null;
}

const MAX_FILE_BYTES = 1 << 20;

function read(file: string): string {
  const stat = fs.statSync(file);
  if (stat.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
  return fs.readFileSync(file, 'utf8');
}

/** A warning when the key file can be read by anyone but its owner. */
export function keyModeWarning(keyFile: string): string | null {
  let mode: number;
  try {
    mode = fs.statSync(keyFile).mode & 0o777;
  } catch {
    return null;
  }
  if ((mode & 0o077) === 0) return null;
  const who = mode & 0o004 ? 'every user' : 'its group';
  return `the private key is readable by ${who} (mode 0${mode.toString(8)}); chmod 600 ${keyFile}`;
}

/**
 * Authorities in a bundle given for `trustDomain` whose own SPIFFE ID (URI SAN) names another trust domain:
 * the file holds several domains' CAs at once, and a leaf of `trustDomain` signed by one of them would pass.
 */
export function mergedBundleWarning(trustDomain: string, file: string, pem: string): string | null {
  const others = new Map<string, string[]>();
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      continue;
    }
    let ids: string[];
    try {
      ids = uriSans(cert);
    } catch {
      continue;
    }
    for (const id of ids) {
      if (spiffeIdProblem(id) !== null) continue;
      const td = parseSpiffeId(id).trustDomain;
      if (td === trustDomain) continue;
      others.set(td, [...(others.get(td) ?? []), cert.subject.replace(/\n/g, ', ')]);
    }
  }
  if (others.size === 0) return null;
  const list = [...others].map(([td, subjects]) => `${td} (${subjects.join('; ')})`).join(', ');
  return (
    `the bundle for ${trustDomain} also holds authorities of other trust domains: ${list}. ` +
    `An ID of ${trustDomain} signed by them would be accepted. Split ${file} into one file per trust domain ` +
    `(with spiffe-helper: include_federated_domains = false, or one file per domain from the Workload API) ` +
    `and give each its own bundle: --bundle <trust domain>=<file>, or trustDomains.<trust domain>.bundle`
  );
}

function checkBundle(trustDomain: string, file: string, now: Date): TlsFileCheck {
  const out: TlsFileCheck = { file, use: `bundle ${trustDomain}`, problems: [], warnings: [], summary: null };
  let pem: string;
  try {
    pem = read(file);
  } catch (err) {
    out.problems.push(`cannot read (${(err as Error).message})`);
    return out;
  }
  let authorities: readonly X509Certificate[];
  try {
    authorities = loadBundle(trustDomain, pem).authorities;
  } catch (err) {
    out.problems.push((err as Error).message);
    return out;
  }
  const live = authorities.filter((a) => now.getTime() <= Date.parse(a.validTo));
  for (const a of authorities) {
    if (!a.ca) out.warnings.push(`${a.subject.replace(/\n/g, ', ')} is not a CA certificate`);
    if (now.getTime() > Date.parse(a.validTo))
      out.warnings.push(`authority ${a.subject.replace(/\n/g, ', ')} expired ${a.validTo}`);
  }
  if (live.length === 0) out.problems.push('every authority in it has expired');
  const merged = mergedBundleWarning(trustDomain, file, pem);
  if (merged) out.warnings.push(merged);
  out.summary = `${authorities.length} ${authorities.length === 1 ? 'authority' : 'authorities'}`;
  return out;
}

function checkSvid(certFile: string, keyFile: string, now: Date): TlsFileCheck[] {
  const cert: TlsFileCheck = { file: certFile, use: 'svid', problems: [], warnings: [], summary: null };
  const key: TlsFileCheck = { file: keyFile, use: 'key', problems: [], warnings: [], summary: null };
  let certText: string | null = null;
  let keyText: string | null = null;
  try {
    certText = read(certFile);
  } catch (err) {
    cert.problems.push(`cannot read (${(err as Error).message})`);
  }
  try {
    keyText = read(keyFile);
  } catch (err) {
    key.problems.push(`cannot read (${(err as Error).message})`);
  }
  const mode = keyModeWarning(keyFile);
  if (mode) key.warnings.push(mode);
  if (certText === null || keyText === null) return [cert, key];
  try {
    const svid = parseServerSvid(certFile, certText, keyFile, keyText, now);
    const leaf = new X509Certificate(certText);
    const ids = uriSans(leaf);
    if (ids.length === 0) cert.problems.push('the certificate has no URI SAN: it is not an X.509-SVID');
    else if (ids.length > 1)
      cert.problems.push(`the certificate has ${ids.length} URI SANs; an SVID has one`);
    else {
      const problem = spiffeIdProblem(ids[0]!);
      if (problem) cert.problems.push(`URI SAN ${JSON.stringify(ids[0])}: ${problem}`);
      else if (parseSpiffeId(ids[0]!).path === '')
        cert.problems.push(`URI SAN ${JSON.stringify(ids[0])} has no path; an SVID names a workload`);
    }
    cert.summary = `${svid.spiffeId ?? '(no SPIFFE ID)'}, valid until ${svid.validTo}`;
    key.summary = `goes with ${certFile}`;
  } catch (err) {
    const target = err instanceof TlsMaterialError && err.file === keyFile ? key : cert;
    target.problems.push(
      err instanceof TlsMaterialError
        ? err.message.replace(/^TLS file [^:]+: /, '')
        : isPeerAuthError(err)
          ? formatError(err)
          : String(err),
    );
  }
  return [cert, key];
}

/** Every file the listener would read, checked; the SVID and key only when both are named. */
export function checkTlsFiles(
  files: { certFile?: string; keyFile?: string; bundleFiles: ReadonlyMap<string, string> },
  now = new Date(),
): TlsFileCheck[] {
  const out: TlsFileCheck[] = [];
  if (files.certFile !== undefined && files.keyFile !== undefined)
    out.push(...checkSvid(files.certFile, files.keyFile, now));
  for (const [trustDomain, file] of files.bundleFiles) out.push(checkBundle(trustDomain, file, now));
  return out;
}
