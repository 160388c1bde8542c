import { constants } from 'node:os';

// errno numbers differ between Linux, macOS and FreeBSD; the running OS's own table names them.
const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

export function errnoName(errno: number): string {
  return names.get(errno) ?? `ERRNO_${errno}`;
}
