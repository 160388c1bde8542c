// Finds the fd behind a net.Socket without duplicating it. Node keeps it on the libuv handle:
// a Pipe handle for Unix sockets (and pipes), TCP for TCP; a dgram socket is a different class.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { NotUnixSocketError, PeerCredentialsError } from './errors.js';

interface Handle {
  fd?: number;
}

export function unixSocketFd(socket: net.Socket, syscall: string): number {
  if (socket instanceof dgram.Socket) throw new NotUnixSocketError('UDP');
  // Linux answers SO_PEERCRED on a listening socket with the listener's own credentials: no peer.
  if (socket instanceof net.Server) {
    throw new PeerCredentialsError(
      'ENOTCONN',
      syscall,
      null,
      'a listening server has no peer; pass an accepted socket',
    );
  }
  const handle = (socket as unknown as { _handle?: Handle | null } | null | undefined)?._handle;
  if (!handle) {
    if (socket === null || typeof socket !== 'object' || !('destroyed' in socket)) {
      throw new NotUnixSocketError('unknown');
    }
    // Destroyed or closed: the fd is gone (or will be reused), so nothing about it is trustworthy.
    throw new PeerCredentialsError('EBADF', syscall, null, 'socket is destroyed or not open');
  }
  const kind = handle.constructor?.name;
  if (kind !== 'Pipe')
    throw new NotUnixSocketError(kind === 'TCP' ? 'TCP' : kind === 'UDP' ? 'UDP' : 'unknown');
  const fd = handle.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new PeerCredentialsError('EBADF', syscall, null, 'socket has no file descriptor');
  }
  return fd;
}
