// Optional process attestation: which executable is on the other end. The pidfd is taken at accept so a
// pid reused after the peer exits can never be attributed to the connection; when anything fails the
// identity simply has no executable, never a guessed one.
import type net from 'node:net';
import {
  type CredentialPool,
  closePidfd,
  formatError,
  openPeerPidfd,
  type ProcessInfo,
} from '@peerauth/core-native';

export interface ProcessOptions {
  sha256?: boolean;
}

/** Called synchronously at accept. Null where SO_PEERPIDFD is unavailable; attest() then relies on the pid. */
export function takePidfd(socket: net.Socket): number | null {
  try {
    return openPeerPidfd(socket);
  } catch {
    return null;
  }
}

export type AttestResult = { ok: true; process: ProcessInfo } | { ok: false; reason: string };

/** Takes ownership of `pidfd` whatever happens. */
export async function attest(
  pool: CredentialPool,
  pid: number | null,
  pidfd: number | null,
  options: ProcessOptions,
  /** The pool key of the peer (its uid's): its attestation takes its turn with its lookups. */
  key?: string | number,
): Promise<AttestResult> {
  if (pid === null) {
    if (pidfd !== null) closePidfd(pidfd);
    return { ok: false, reason: 'the platform reported no peer pid' };
  }
  try {
    const info = await pool.processInfo(
      { pid, pidfd },
      {
        sha256: options.sha256 === true,
        ...(key === undefined ? {} : { key }),
      },
    );
    return { ok: true, process: info };
  } catch (err) {
    return { ok: false, reason: formatError(err) };
  }
}
