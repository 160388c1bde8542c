import path from 'node:path';
import { addonOrigin, platformSupport } from '@peerauth/core-native';
import type { ParsedIdentityConfig } from '@peerauth/identity';
import {
  AddressInUseError,
  checkDefaultSocketDirectory,
  checkSocketDirectory,
  checkSocketDirectoryWritable,
  checkSocketPathLength,
  defaultSocketPath,
  inspectSocketPath,
  socketReachWarning,
} from '@peerauth/server';
import { loadConfig } from '../common.js';
import { reportTlsFiles, type TlsFileFlags } from '../tls-report.js';
import { checkWorkloadApi } from './doctor-workload.js';

const yes = (b: boolean) => (b ? 'yes' : 'no');

/** Reports what this machine gives peerauth; exit 1 when something essential is missing. */
export async function doctorCommand(
  opts: {
    socket?: string;
    config?: string;
    /** Read by the same parser as serve's --mode. */
    mode?: number;
    workloadApi?: string;
  } & TlsFileFlags,
): Promise<number> {
  let ok = true;
  const out: string[] = [];
  try {
    const origin = addonOrigin();
    out.push(
      `addon       loaded from ${origin.source === 'prebuild' ? 'a prebuild' : 'a local build'}: ${origin.path}`,
    );
    const s = platformSupport();
    out.push(`platform    ${s.platform}: pid ${yes(s.pid)}, groups ${yes(s.groups)}, pidfd ${yes(s.pidfd)}`);
  } catch (err) {
    ok = false;
    out.push(`addon       NOT LOADED: ${(err as Error).message}`);
  }

  const socket = path.resolve(opts.socket ?? defaultSocketPath());
  const dir = path.dirname(socket);
  out.push(`socket      ${socket}`);
  ok = (await checkSocket(socket, opts.socket === undefined, out)) && ok;
  if (opts.mode !== undefined) {
    const warning = await socketReachWarning(socket, opts.mode);
    out.push(
      `mode        ${opts.mode.toString(8).padStart(4, '0')}: ${warning ? `warning: ${warning}` : `${dir} lets whom it admits through`}`,
    );
  }
  let config: ParsedIdentityConfig | null = null;
  try {
    config = await loadConfig(opts.config);
    out.push(
      `config      ${opts.config ?? '(embedded default)'}: ok, ${config.people.length} people, fallback "${config.fallbackRole}"`,
    );
  } catch (err) {
    ok = false;
    out.push(`config      ${opts.config}: ${(err as Error).message}`);
  }
  const tls = reportTlsFiles(
    opts,
    config,
    (use) => `${use.startsWith('bundle') ? 'bundle' : use.padEnd(6)}      `,
  );
  out.push(...tls.lines);
  ok = tls.ok && ok;
  if (opts.workloadApi !== undefined) ok = (await checkWorkloadApi(opts.workloadApi, config, out)) && ok;
  process.stdout.write(`${out.join('\n')}\n`);
  return ok ? 0 : 1;
}

/**
 * Runs the server's own checks on the socket path and says what the server will do; false when it would
 * refuse to start.
 */
async function checkSocket(socket: string, isDefault: boolean, out: string[]): Promise<boolean> {
  try {
    checkSocketPathLength(socket);
  } catch (err) {
    out.push(`            PROBLEM: ${(err as Error).message}`);
    return false;
  }
  const dir = path.dirname(socket);
  // The server's own checks, so that doctor never calls fine what the server refuses.
  let verdict: 'missing' | 'ok';
  try {
    if (isDefault) verdict = await checkDefaultSocketDirectory(dir);
    else {
      await checkSocketDirectory(dir);
      verdict = 'ok';
    }
  } catch (err) {
    out.push(`directory   ${dir}: PROBLEM: ${(err as Error).message}`);
    return false;
  }
  if (verdict === 'ok') {
    // What serve does first in the directory, tried and undone: permission bits alone do not say it
    // (root without CAP_DAC_OVERRIDE, a read-only mount, an ACL, a security module).
    try {
      await checkSocketDirectoryWritable(dir);
    } catch (err) {
      out.push(`directory   ${dir}: PROBLEM: ${(err as Error).message}`);
      return false;
    }
  }
  out.push(
    verdict === 'ok'
      ? `directory   ${dir}: ok (owned by root or you, writable by no one else; the server can create its socket there)`
      : `directory   ${dir}: not there yet; the server will create it 0700 (${path.dirname(dir)} is ok)`,
  );
  return verdict === 'missing' || (await checkSocketFile(socket, out));
}

/** What is at the socket path, as the server sees it before binding; false when it would refuse it. */
async function checkSocketFile(socket: string, out: string[]): Promise<boolean> {
  try {
    const existing = await inspectSocketPath(socket);
    if (existing.kind === 'stale')
      out.push('socket file a stale socket nobody answers on; the server will replace it');
    return true;
  } catch (err) {
    // A running server is what doctor is often asked about: worth saying, not a problem of this machine.
    if (err instanceof AddressInUseError) {
      out.push(`socket file ${err.message}`);
      return true;
    }
    out.push(`socket file PROBLEM: ${(err as Error).message}`);
    return false;
  }
}
