import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ParsedRequest } from './upstreams.js';

/**
 * A header name as upstreams that fold names see it (CGI, lighttpd, PHP, WSGI): lowercased, every run of
 * characters that are not letters or digits one `-`. wsgiref, PHP and CGI report names as HTTP_X_PEERAUTH_UID,
 * which folds to http-x-peerauth-uid: the HTTP_ prefix is stripped first.
 */
export function foldName(name: string): string {
  const folded = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return folded.startsWith('http-') ? folded.slice('http-'.length) : folded;
}

// The tests' own copy of the namespace rule, not the proxy's: an oracle that imported src would share
// its mistakes. Names an upstream may read as the caller or as the caller's address or certificate.
const FAMILY = new Set([
  'remote-user',
  'x-authenticated-user',
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-forwarded-client-cert',
  'client-cert',
  'client-cert-chain',
]);
const PREFIXES = [
  'x-peerauth-',
  'x-auth-request-',
  'x-forwarded-',
  'remote-',
  'x-remote-',
  'x-webauth-',
  'x-ssl-client-',
  'x-goog-authenticated-',
  'cf-access-',
  'x-ms-client-principal',
  'x-ms-token-',
  'x-amzn-oidc-',
  'x-amzn-mtls-',
  'tailscale-',
  'x-pomerium-',
];

export function isIdentityName(folded: string): boolean {
  return FAMILY.has(folded) || PREFIXES.some((p) => folded.startsWith(p));
}

/** The identity headers a parsed request carries, folded name -> every value it got. */
export function identityHeadersOf(req: ParsedRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of req.headers) {
    const folded = foldName(name);
    if (!isIdentityName(folded)) continue;
    out[folded] = [...(out[folded] ?? []), value];
  }
  return out;
}

/**
 * Asserts the request carries exactly the expected stamps (folded name -> value), each once, and no other
 * identity header.
 */
export function expectStamps(req: ParsedRequest, expected: Record<string, unknown>): void {
  const want: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(expected)) want[k] = [v];
  expect(identityHeadersOf(req), `${req.method} ${req.path}`).toEqual(want);
}

function groupName(gid: number): string | null {
  try {
    return execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0]!;
  } catch {
    return null;
  }
}

/**
 * The stamps the proxy must set for a caller (default config: the proxy's own user is the person
 * "owner", everyone else the fallback role "public"). The pid is whatever process connected.
 */
export function stampsFor(caller: {
  uid: number;
  gid: number;
  groups: number[];
  username: string | null;
  owner?: boolean;
}): Record<string, unknown> {
  const names = [...new Set([caller.gid, ...caller.groups].map(groupName).filter((n) => n !== null))];
  const out: Record<string, unknown> = {
    'x-peerauth-uid': String(caller.uid),
    'x-peerauth-gid': String(caller.gid),
    'x-peerauth-pid': expect.stringMatching(/^[1-9][0-9]*$/),
    'x-peerauth-groups': caller.groups.join(','),
    'x-peerauth-role': caller.owner ? 'owner' : 'public',
    'x-peerauth-spiffe-id': `spiffe://peerauth.local/uid-${caller.uid}`,
    'x-peerauth-auth': 'unix',
  };
  if (names.length) out['x-forwarded-groups'] = names.join(',');
  if (caller.username !== null) {
    out['x-peerauth-user'] = caller.username;
    out['x-forwarded-user'] = caller.username;
  }
  if (caller.owner) out['x-peerauth-person'] = 'owner';
  return out;
}

function kernelGroups(): number[] {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Groups:'))!;
  return line.slice('Groups:'.length).trim().split(/\s+/).filter(Boolean).map(Number);
}

/** The stamps for this test process connecting to a proxy it started (as root, the person "owner"). */
export function ownStamps(): Record<string, unknown> {
  return stampsFor({
    uid: process.getuid!(),
    gid: process.getgid!(),
    // The kernel's list, which (unlike process.getgroups()) never adds the effective gid.
    groups: kernelGroups(),
    username: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
    owner: true,
  });
}
