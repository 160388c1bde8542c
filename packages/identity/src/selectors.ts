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
 * `unix:uid`, `unix:user`, `unix:gid`, `unix:group`, `unix:supplementary_gid`, `unix:supplementary_group`,
 * `unix:pid`, `unix:path`, `unix:sha256`, in that order; a selector whose value is unknown is left out.
 */
export function buildSelectors(input: SelectorInput): string[] {
  const { creds, username, primaryGroup, supplementary, process } = input;
  const out = [`unix:uid:${creds.uid}`];
  if (username !== null) out.push(`unix:user:${username}`);
  out.push(`unix:gid:${creds.gid}`);
  if (primaryGroup !== null) out.push(`unix:group:${primaryGroup}`);
  for (const g of supplementary) out.push(`unix:supplementary_gid:${g.gid}`);
  for (const g of supplementary) if (g.name !== null) out.push(`unix:supplementary_group:${g.name}`);
  const pid = creds.pid ?? process?.pid ?? null;
  if (pid !== null) out.push(`unix:pid:${pid}`);
  if (process) {
    out.push(`unix:path:${process.exePath}`);
    if (process.sha256) out.push(`unix:sha256:${process.sha256}`);
  }
  return out;
}
