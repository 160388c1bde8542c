// SPIRE unix workload attestor selectors, so registration entries carry over when a deployment moves to SPIRE.
import type { PeerCredentialsLike, ProcessLike } from './types.js';

export interface NamedGroup {
  gid: number;
  name: string | null;
}

export interface SelectorInput {
  creds: PeerCredentialsLike;
  username: string | null;
  /** Name of the primary gid (creds.gid), when the directory knows it. */
  primaryGroup: string | null;
  /** Supplementary groups: the kernel's list when it reported one, else the directory's. */
  supplementary: NamedGroup[];
  process?: ProcessLike | undefined;
}

/**
 * SPIRE's unix workload attestor selectors in its order: `unix:uid`, `unix:user`, `unix:gid`, `unix:group`,
 * then for each supplementary gid `unix:supplementary_gid` followed by its `unix:supplementary_group`,
 * then `unix:path` and `unix:sha256`. A selector whose value is unknown is left out. SPIRE has no pid
 * selector: the pid is in `identity.pid`.
 */
export function buildSelectors(input: SelectorInput): string[] {
  const { creds, username, primaryGroup, supplementary, process } = input;
  const out = [`unix:uid:${creds.uid}`];
  if (username !== null) out.push(`unix:user:${username}`);
  out.push(`unix:gid:${creds.gid}`);
  if (primaryGroup !== null) out.push(`unix:group:${primaryGroup}`);
  for (const g of supplementary) {
    out.push(`unix:supplementary_gid:${g.gid}`);
    if (g.name !== null) out.push(`unix:supplementary_group:${g.name}`);
  }
  if (process) {
    out.push(`unix:path:${process.exePath}`);
    if (process.sha256) out.push(`unix:sha256:${process.sha256}`);
  }
  return out;
}
