// The synchronous, main-thread credential read. The addon writes into a Uint32Array registered
// once, and the object is built here in JavaScript: creating objects and arrays through N-API costs
// more than the getsockopt calls themselves.
import type * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import { type AddonLayout, addonLayout, nativeBinding } from './addon.js';
import { errnoName } from './errno.js';
import { PeerCredentialsError, PeerCredentialsUnavailableError } from './errors.js';
import { unixSocketFd } from './socket-fd.js';
import { namespaceOverflowIds, type OverflowIds } from './userns.js';

export interface PeerCredentials {
  pid: number | null;
  uid: number;
  gid: number;
  groups: number[] | null;
}

// Read once, from the addon (platform.h defines them), into plain numbers for the hot path. Without an
// addon nativeBinding() throws before any of them is used.
const layout = addonLayout();
const SLOT_FLAGS = layout?.slots.flags ?? 0;
const SLOT_PID = layout?.slots.pid ?? 0;
const SLOT_UID = layout?.slots.uid ?? 0;
const SLOT_GID = layout?.slots.gid ?? 0;
const SLOT_NGROUPS = layout?.slots.ngroups ?? 0;
const SLOT_GROUPS = layout?.slots.groups ?? 0;
const FLAG_PID = layout?.flags.pid ?? 0;
const FLAG_GROUPS = layout?.flags.groups ?? 0;

let buffer: Uint32Array | null = null;

function sharedBuffer(minGroups: number): Uint32Array {
  if (!buffer || buffer.length < SLOT_GROUPS + minGroups) {
    buffer = new Uint32Array(SLOT_GROUPS + Math.max(64, minGroups));
    nativeBinding().setBuffer(buffer);
  }
  return buffer;
}

function unavailable(): PeerCredentialsUnavailableError {
  const b = nativeBinding();
  return new PeerCredentialsUnavailableError(
    process.platform,
    b.unsupportedReason || 'not supported by the addon',
  );
}

export function getPeerCredentials(socket: net.Socket): PeerCredentials {
  const fd = unixSocketFd(socket, 'getsockopt');
  const native = nativeBinding();
  let buf = sharedBuffer(0);
  let rc = native.readPeer(fd);
  // More supplementary groups than the buffer holds: grow to what the kernel asked for and re-read
  // everything, so all fields come from the same read.
  while (rc === native.resultNeedMore) {
    buf = sharedBuffer(buf[SLOT_NGROUPS]!);
    rc = native.readPeer(fd);
  }
  if (rc !== 0) {
    if (rc === native.resultUnsupported) throw unavailable();
    throw new PeerCredentialsError(errnoName(rc), 'getsockopt', rc);
  }
  const flags = buf[SLOT_FLAGS]!;
  const overflow = namespaceOverflowIds();
  refuseUnmapped(overflow, buf[SLOT_UID]!, buf[SLOT_GID]!);
  let groups: number[] | null = null;
  if (flags & FLAG_GROUPS) {
    const n = buf[SLOT_NGROUPS]!;
    groups = [];
    // Inside a user namespace the overflow gid in the list is every supplementary group this namespace
    // cannot name (the kernel's "unknown"), not the group nogroup: dropping it keeps it from being named,
    // becoming a selector or matching groupRoles. The peer is not refused for it: its uid and primary gid
    // are real, and holding an unnamed group grants nothing here.
    const hidden = overflow === null ? -1 : overflow.gid;
    for (let i = 0; i < n; i++) {
      const gid = buf[SLOT_GROUPS + i]!;
      if (gid !== hidden) groups.push(gid);
    }
  }
  return {
    pid: flags & FLAG_PID ? buf[SLOT_PID]! : null,
    uid: buf[SLOT_UID]!,
    gid: buf[SLOT_GID]!,
    groups,
  };
}

function refuseUnmapped(overflow: OverflowIds | null, uid: number, gid: number): void {
  if (overflow === null || (uid !== overflow.uid && gid !== overflow.gid)) return;
  const which = uid === overflow.uid ? `uid ${uid}` : `gid ${gid}`;
  throw new PeerCredentialsError(
    'EOVERFLOW',
    'getsockopt',
    osConstants.errno.EOVERFLOW,
    `the peer is outside this user namespace (${which} is the overflow id: its real id has no mapping here)`,
  );
}

export function formatCredentials(c: PeerCredentials): string {
  return `pid=${c.pid ?? 'none'} uid=${c.uid} gid=${c.gid}`;
}

let support: { platform: string; pid: boolean; groups: boolean; pidfd: boolean } | null = null;

/** What this OS and running kernel give, probed once with a real socketpair. */
export function platformSupport(): { platform: string; pid: boolean; groups: boolean; pidfd: boolean } {
  if (!support) {
    let bits = 0;
    try {
      bits = nativeBinding().probe();
    } catch {
      // No addon: nothing is available.
    }
    const has = (bit: keyof AddonLayout['support']) => layout !== null && (bits & layout.support[bit]) !== 0;
    const ok = has('credentials');
    support = {
      platform: process.platform,
      pid: ok && has('pid'),
      groups: ok && has('groups'),
      pidfd: ok && has('pidfd'),
    };
  }
  return { ...support };
}

/**
 * Opens a pidfd for the peer (Linux SO_PEERPIDFD) at accept time, while the peer is certainly the
 * process that connected. The caller owns the fd: hand it to pool.processInfo or closePidfd it.
 * Returns null where the OS or kernel has no such option.
 */
export function openPeerPidfd(socket: net.Socket): number | null {
  const fd = unixSocketFd(socket, 'getsockopt(SO_PEERPIDFD)');
  const native = nativeBinding();
  const rc = native.openPidfd(fd);
  if (rc === null) return null;
  if (rc < 0) throw new PeerCredentialsError(errnoName(-rc), 'getsockopt(SO_PEERPIDFD)', -rc);
  return rc;
}

/** Closes a pidfd that was not handed to pool.processInfo. */
export function closePidfd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw new PeerCredentialsError('EBADF', 'close', null, `invalid fd ${fd}`);
  const rc = nativeBinding().closeFd(fd);
  if (rc !== 0) throw new PeerCredentialsError(errnoName(rc), 'close', rc);
}
