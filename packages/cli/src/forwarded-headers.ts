import type { Identity } from '@peerauth/identity';
import { identityFields } from './identity-view.js';

/** Headers the proxy sets from the identity; any copy a client sends is dropped first, in any case. */
export const IDENTITY_HEADERS = [
  'x-peerauth-uid',
  'x-peerauth-user',
  'x-peerauth-person',
  'x-peerauth-role',
  'x-peerauth-spiffe-id',
  'x-forwarded-user',
] as const;

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are not forwarded; node:http writes
// its own framing (content-length or chunked) for the upstream side.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const DROP = new Set<string>(IDENTITY_HEADERS);

/**
 * Header values must be visible ASCII; names of people may not be. Such values are sent
 * percent-encoded (RFC 3986 unreserved characters stay as they are), which an upstream decodes with
 * decodeURIComponent.
 */
export function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

export function identityHeaders(id: Identity): [string, string][] {
  const f = identityFields(id);
  const out: [string, string][] = [
    ['X-Peerauth-Uid', f.uid],
    ['X-Peerauth-Role', headerValue(f.role)],
    ['X-Peerauth-Spiffe-Id', f.spiffeId],
  ];
  // Absent means "none": the client's own copies were removed, so absence cannot be forged either.
  if (id.username !== null) {
    out.push(['X-Peerauth-User', headerValue(f.user)], ['X-Forwarded-User', headerValue(f.user)]);
  }
  if (id.person) out.push(['X-Peerauth-Person', headerValue(f.person)]);
  return out;
}

/**
 * The request headers to send upstream, as a flat raw list so repeated headers and their order survive.
 * `keepUpgrade` keeps Connection/Upgrade for a websocket handshake.
 */
export function forwardHeaders(rawHeaders: string[], id: Identity, keepUpgrade = false): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (DROP.has(lower)) continue;
    if (HOP_BY_HOP.has(lower) && !(keepUpgrade && (lower === 'connection' || lower === 'upgrade'))) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  for (const [name, value] of identityHeaders(id)) out.push(name, value);
  return out;
}

/** Response headers from the upstream, minus hop-by-hop ones. */
export function responseHeaders(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!HOP_BY_HOP.has(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}
