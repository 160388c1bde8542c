// What a process that runs other people's commands needs to keep all they start: on Linux it becomes the
// subreaper of its descendants, so an orphan (whatever session or process group it made) is reparented to
// it rather than to init, stays findable, and is collected here once it ends.
import { nativeBinding } from './addon.js';
import { errnoName } from './errno.js';
import { SubreaperFailedError } from './errors.js';

/**
 * Makes this process the child subreaper (Linux PR_SET_CHILD_SUBREAPER). True once it is; false where the
 * OS has no such thing. A failure of the call itself (never seen on Linux >= 3.4) throws.
 */
export function becomeChildSubreaper(): boolean {
  const binding = nativeBinding();
  const rc = binding.setChildSubreaper();
  if (rc === binding.resultUnsupported) return false;
  if (rc !== 0) throw new SubreaperFailedError(errnoName(rc));
  return true;
}

/**
 * Collects `pid` if it is an ended child of this process (a zombie left to us as subreaper): true once
 * collected, false while it runs or when it is not our child. Never call it for a child that Node's own
 * child_process spawned: its exit status would be lost to it.
 */
export function reapOrphan(pid: number): boolean {
  try {
    return nativeBinding().reapChild(pid);
  } catch (err) {
    const e = err as { errno?: number };
    if (typeof e.errno === 'number' && errnoName(e.errno) === 'ECHILD') return false;
    throw err;
  }
}
