// How a directory names gids: the batched groupsByGid when it has one, else the deprecated one-gid
// groupByGid (released before groupsByGid, so custom directories written against it keep working).
import type { DirectoryCaller, MaybePromise, UserDirectory } from './types.js';

export type GroupNamer = (
  gids: readonly number[],
  caller?: DirectoryCaller,
) => MaybePromise<{ gid: number; name: string | null }[]>;

export function groupNamer(directory: UserDirectory): GroupNamer | undefined {
  if (typeof directory.groupsByGid === 'function') return directory.groupsByGid.bind(directory);
  const one = directory.groupByGid;
  if (typeof one !== 'function') return undefined;
  return (gids) =>
    Promise.all(gids.map(async (gid) => ({ gid, name: (await one.call(directory, gid)) ?? null })));
}
