import type http from 'node:http';
import type net from 'node:net';
import type { Identity } from '@peerauth/identity';

// A property under a module-private symbol rather than a WeakMap entry: it lives exactly as long as the
// socket too, costs one property store per connection instead of a WeakMap insertion (and the GC's
// ephemeron work), and code without this symbol cannot set or replace it by name.
const kIdentity = Symbol('peerauth.identity');

interface WithIdentity {
  [kIdentity]?: Identity;
}

export function setPeer(socket: net.Socket, identity: Identity): void {
  (socket as WithIdentity)[kIdentity] = identity;
}

/** The identity of a connection accepted by a peerauth server, from its socket, HTTP request or anything with `.socket`. */
export function peerOf(
  target: net.Socket | http.IncomingMessage | { socket: net.Socket } | null | undefined,
): Identity | undefined {
  if (!target) return undefined;
  const direct = (target as WithIdentity)[kIdentity];
  if (direct) return direct;
  const socket = (target as { socket?: unknown }).socket;
  return socket && typeof socket === 'object' ? (socket as WithIdentity)[kIdentity] : undefined;
}
