import {
  findControlCharacter,
  type Identity,
  type SvidIdentity,
  type UnixIdentity,
} from '@peerauth/identity';
import { IdentityValueError } from './errors.js';
import { DEFAULT_HEADER_POLICY, type HeaderPolicy } from './header-namespace.js';
import { identityFields } from './identity-view.js';

/**
 * True for a request header name in the namespace the proxy owns by default (the families in
 * header-namespace.ts, compared by folded name). A configured proxy uses its own HeaderPolicy.
 */
export function isIdentityHeader(name: string): boolean {
  return DEFAULT_HEADER_POLICY.drops(name);
}

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are not forwarded.
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
  // Connection-specific by definition (RFC 9113 3.2.1), and only meaningful with an h2c upgrade, which the
  // proxy never forwards.
  'http2-settings',
]);

// Defined in the error table (errors.ts); exported here too, beside the code that throws it.
export { IdentityValueError };

// Identity's one control-character rule (C0 controls and DEL): CR/LF would end the header, the rest have no
// business in a name. Percent-encoding them would hand the upstream a name the user database never meant to
// grant, so they are refused.

/**
 * Header values must be visible ASCII; names of people may not be. A value with other characters, or with
 * a `%` (so decoding is never ambiguous), is sent percent-encoded; an upstream decodes every identity
 * value with decodeURIComponent. `alsoEncode` lists characters that are separators in a list value.
 */
export function headerValue(field: string, value: string, alsoEncode = ''): string {
  if (findControlCharacter(value) !== null) throw new IdentityValueError(field);
  const plain = [...value].every((c) => c >= ' ' && c <= '~' && c !== '%' && !alsoEncode.includes(c));
  if (plain) return value;
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate (possible in a JSON config) has no UTF-8 form.
    throw new IdentityValueError(field);
  }
}

/** The names of the caller's groups (primary first) as the resolver found them, for X-Forwarded-Groups. */
function groupNames(id: UnixIdentity): string[] {
  const names = new Set<string>();
  for (const prefix of ['unix:group:', 'unix:supplementary_group:']) {
    for (const s of id.selectors) if (s.startsWith(prefix)) names.add(s.slice(prefix.length));
  }
  return [...names];
}

/**
 * The headers the proxy sets from the identity, in the order they are sent (first, before any client
 * header, so no header count limit of an upstream can push them out). Absent means "none" or "unknown":
 * every client copy was removed, so absence cannot be forged either. Throws IdentityValueError.
 */
export function identityHeaders(id: Identity, remoteAddress?: string | null): string[] {
  if (id.auth === 'x509-svid') return remoteIdentityHeaders(id, remoteAddress ?? null);
  const f = identityFields(id);
  const out = ['X-Peerauth-Uid', f.uid, 'X-Peerauth-Gid', f.gid];
  if (id.pid !== null) out.push('X-Peerauth-Pid', f.pid);
  if (id.groups !== null) out.push('X-Peerauth-Groups', id.groups.join(','));
  if (id.username !== null) out.push('X-Peerauth-User', headerValue('username', f.user));
  if (id.person) out.push('X-Peerauth-Person', headerValue('person', f.person));
  out.push('X-Peerauth-Role', headerValue('role', f.role));
  out.push('X-Peerauth-Spiffe-Id', headerValue('SPIFFE ID', f.spiffeId));
  out.push('X-Peerauth-Auth', 'unix');
  if (id.username !== null) out.push('X-Forwarded-User', headerValue('username', f.user));
  const groups = groupNames(id).map((g) => headerValue('group name', g, ','));
  if (groups.length) out.push('X-Forwarded-Groups', groups.join(','));
  return out;
}

/**
 * A caller on another machine, authenticated by its X.509-SVID: no uid, gid, pid, groups or username exist
 * for it, so none of those headers is sent (and every client copy is still removed).
 */
function remoteIdentityHeaders(id: SvidIdentity, remoteAddress: string | null): string[] {
  const out: string[] = [];
  if (id.person) out.push('X-Peerauth-Person', headerValue('person', id.person.name));
  out.push('X-Peerauth-Role', headerValue('role', id.role));
  out.push('X-Peerauth-Spiffe-Id', headerValue('SPIFFE ID', id.spiffeId));
  out.push('X-Peerauth-Auth', 'x509-svid');
  // The address the TCP connection came from, as the kernel reported it; every client copy of these
  // headers was dropped, so they hold only this hop's knowledge.
  if (remoteAddress) {
    const address = remoteAddress.startsWith('::ffff:')
      ? remoteAddress.slice('::ffff:'.length)
      : remoteAddress;
    out.push('X-Forwarded-For', address);
    out.push('Forwarded', address.includes(':') ? `for="[${address}]"` : `for=${address}`);
  }
  return out;
}

/**
 * The client's request headers to send upstream, as a flat raw list so repeated headers and their order
 * survive: without the identity namespace, hop-by-hop headers and Content-Length (the proxy states the
 * framing of every body it forwards itself, see request-framing.ts), filtered by `policy`. Upgrade goes too: the proxy writes
 * the protocols it allows itself (proxy-upgrade.ts). The client's Connection never goes: every token in it names a header a hop-by-hop
 * honouring hop would drop, the stamps included, so the proxy writes its own (see upstreamHeaders).
 * `withoutExpect` leaves out Expect too (a request without a body: node:http's server has already answered
 * `Expect: 100-continue` itself, as nginx does, and there is nothing to wait for).
 */
export function clientHeaders(
  rawHeaders: string[],
  out: string[] = [],
  policy: HeaderPolicy = DEFAULT_HEADER_POLICY,
  withoutExpect = false,
): string[] {
  const verdicts = verdictsOf(policy);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    let verdict = verdicts.get(name);
    if (verdict === undefined) {
      verdict = verdictOf(name, policy);
      // Names come from clients: the memo is bounded in entries and in their length (a header name may be
      // up to node:http's whole header limit), and starts over when full.
      if (name.length <= MAX_VERDICT_NAME) {
        if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
        verdicts.set(name, verdict);
      }
    }
    if (verdict === KEEP || (verdict === EXPECT && !withoutExpect)) out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

const KEEP = 0;
const DROP = 1;
/** Expect: kept for a request with a body only (see upstreamHeaders). */
const EXPECT = 2;
type Verdict = typeof KEEP | typeof DROP | typeof EXPECT;

/**
 * What clientHeaders does with a header, memoised per policy and spelling: the same few names come with
 * every request, and folding a name for the policy costs more than the rest of its forwarding.
 */
const verdictMemos = new WeakMap<HeaderPolicy, Map<string, Verdict>>();
const MAX_VERDICTS = 512;
/** Longer names are decided every time: no real header name comes near it. */
const MAX_VERDICT_NAME = 64;

function verdictsOf(policy: HeaderPolicy): Map<string, Verdict> {
  let m = verdictMemos.get(policy);
  if (m === undefined) {
    m = new Map();
    verdictMemos.set(policy, m);
  }
  return m;
}

function verdictOf(name: string, policy: HeaderPolicy): Verdict {
  const lower = name.toLowerCase();
  if (lower === 'content-length' || policy.drops(name) || HOP_BY_HOP.has(lower)) return DROP;
  return lower === 'expect' ? EXPECT : KEEP;
}

/** The hop-by-hop names by length: most names are told apart by length alone. */
const HOP_BY_HOP_BY_LENGTH: (string[] | undefined)[] = new Array(20).fill(undefined);
for (const n of HOP_BY_HOP) {
  const same = HOP_BY_HOP_BY_LENGTH[n.length] ?? [];
  same.push(n);
  HOP_BY_HOP_BY_LENGTH[n.length] = same;
}

/** True when `name` is `lower` in any case (ASCII), without building a lowercased copy. */
function sameName(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Runs for every header of every answer: by length, then compared in place. */
function isHopByHop(name: string): boolean {
  const candidates = HOP_BY_HOP_BY_LENGTH[name.length];
  if (candidates === undefined) return false;
  for (let i = 0; i < candidates.length; i++) if (sameName(name, candidates[i]!)) return true;
  return false;
}

/** Response headers from the upstream, minus hop-by-hop ones. */
export function responseHeaders(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!isHopByHop(rawHeaders[i]!)) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * responseHeaders from undici's raw header Buffers, in one pass: each name and value read as latin1, as
 * node:http's own client reads them.
 */
export function responseHeaderBuffers(rawHeaders: Buffer[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1');
    if (!isHopByHop(name)) out.push(name, rawHeaders[i + 1]!.toString('latin1'));
  }
  return out;
}
