import type http from 'node:http';
import type net from 'node:net';
import type { Identity } from '@peerauth/identity';

// Keyed by socket so the identity lives exactly as long as the connection, with nothing to clean up.
const identities = new WeakMap<object, Identity>();

export function setPeer(socket: net.Socket, identity: Identity): void {
  identities.set(socket, identity);
}

/** The identity of a connection accepted by a peerauth server, from its socket, HTTP request or anything with `.socket`. */
export function peerOf(
  target: net.Socket | http.IncomingMessage | { socket: net.Socket } | null | undefined,
): Identity | undefined {
  if (!target) return undefined;
  const direct = identities.get(target);
  if (direct) return direct;
  const socket = (target as { socket?: unknown }).socket;
  return socket && typeof socket === 'object' ? identities.get(socket) : undefined;
}
