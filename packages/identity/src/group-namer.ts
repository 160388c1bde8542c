// How a directory names gids: its batched groupsByGid, bound to it, or nothing (then only the groups
// groupsOf names have names).
import type { DirectoryCaller, MaybePromise, UserDirectory } from './types.js';

export type GroupNamer = (
  gids: readonly number[],
  caller?: DirectoryCaller,
) => MaybePromise<{ gid: number; name: string | null }[]>;

export function groupNamer(directory: UserDirectory): GroupNamer | undefined {
  return typeof directory.groupsByGid === 'function' ? directory.groupsByGid.bind(directory) : undefined;
}
