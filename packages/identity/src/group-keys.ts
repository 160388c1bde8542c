// groupRoles keys: a group name, or `gid:N` for a gid by number. A bare number is a name like any other,
// so a gid without a group entry (which has no name) is only ever matched when a key names it explicitly.

const GID_KEY = /^gid:(0|[1-9][0-9]*)$/;
const MAX_GID = 0xffffffff;

/** The gid a `gid:N` key names, or null when the key is a group name. */
export function gidOfKey(key: string): number | null {
  const m = GID_KEY.exec(key);
  if (!m) return null;
  const gid = Number(m[1]);
  return gid <= MAX_GID ? gid : null;
}

/** Why `key` is not a usable groupRoles key, or null. */
export function groupRoleKeyProblem(key: string): string | null {
  if (!key.startsWith('gid:') || gidOfKey(key) !== null) return null;
  return `${JSON.stringify(key)}: a key starting with "gid:" must name a gid, e.g. "gid:7999" (0..4294967295)`;
}
