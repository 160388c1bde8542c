import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ParsedRequest } from './upstreams.js';

/**
 * Header names an upstream may read as identity, with `_` read as `-` (CGI, WSGI, PHP and Rack fold the
 * two). wsgiref reports names as HTTP_X_PEERAUTH_UID, which folds to http-x-peerauth-uid: the HTTP_
 * prefix is stripped first.
 */
export function foldName(name: string): string {
  const lower = name.toLowerCase().replaceAll('_', '-');
  return lower.startsWith('http-') ? lower.slice('http-'.length) : lower;
}

// The tests' own copy of the namespace rule, not the proxy's: an oracle that imported src would share
// its mistakes.
const FAMILY = new Set([
  'x-forwarded-user',
  'x-forwarded-groups',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'remote-user',
  'x-remote-user',
  'x-remote-group',
  'x-webauth-user',
  'x-authenticated-user',
]);

export function isIdentityName(folded: string): boolean {
  return folded.startsWith('x-peerauth-') || folded.startsWith('x-auth-request-') || FAMILY.has(folded);
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
