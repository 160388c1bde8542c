import { nativeBinding } from './addon.js';

/**
 * The path a listening or connected Unix socket `fd` is bound to (getsockname), `@name` for an abstract
 * socket, or null for an unnamed or non-Unix socket. For a socket handed over as an fd (systemd socket
 * activation), where Node's `server.address()` knows no name.
 */
export function unixSocketName(fd: number): string | null {
  return nativeBinding().unixSocketName(fd);
}
