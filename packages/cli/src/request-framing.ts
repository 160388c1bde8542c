import type http from 'node:http';
import { clientHeaders } from './forwarded-headers.js';
import type { HeaderPolicy } from './header-namespace.js';

/**
 * More request header fields than this get 431, as in Python's http.server and gunicorn: an upstream that
 * keeps only its first N headers must never lose the identity headers to a flood. The limit holds both
 * for the request as the client sent it and as it would go upstream, identity headers included, so an
 * upstream with this same limit never refuses what the proxy let through.
 */
export const MAX_REQUEST_HEADERS = 100;

/**
 * Methods whose request content has no defined meaning (RFC 9110 9.3). Upstream handlers for them
 * routinely never read a body, and an unread body on a kept-alive connection is parsed as the next
 * request, so such a body is refused rather than forwarded.
 */
const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

/**
 * Methods node:http's client sends without body framing when given none; every other method it frames
 * chunked by default and ends with an empty last chunk (`0\r\n\r\n`), bytes an upstream that does not read
 * an unexpected body parses as its next request (and, after an upgrade, the tunnel's first bytes).
 */
const UNFRAMED_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/** How the body of a forwarded request is framed for the upstream. */
export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface Refusal {
  status: number;
  reason: string;
}

export type FramingDecision = { ok: true; framing: Framing } | ({ ok: false } & Refusal);

const WITHOUT_BODY: FramingDecision = Object.freeze({ ok: true, framing: Object.freeze({ kind: 'none' }) });

/**
 * Decides, from what node:http's parser accepted, how the body goes upstream, or why the request is
 * refused. The parser has already rejected requests with both Content-Length and Transfer-Encoding, with
 * conflicting lengths, or with a transfer coding that does not end in chunked.
 */
export function requestFraming(req: http.IncomingMessage): FramingDecision {
  if (req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS) {
    return {
      ok: false,
      status: 431,
      reason: `more than ${MAX_REQUEST_HEADERS} header fields`,
    };
  }
  const method = req.method ?? '';
  const te = req.headers['transfer-encoding'];
  // Most requests: no body, one shared answer.
  if (te === undefined && req.headers['content-length'] === undefined) return WITHOUT_BODY;
  let framing: Framing = { kind: 'none' };
  if (te !== undefined) {
    // The body arrives decoded; any coding before the final chunked would be lost on the way.
    if (te.trim().toLowerCase() !== 'chunked')
      return { ok: false, status: 501, reason: `transfer coding "${te}" is not supported` };
    framing = { kind: 'chunked' };
  } else if (req.headers['content-length'] !== undefined) {
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0)
      return { ok: false, status: 400, reason: 'invalid Content-Length' };
    framing = { kind: 'length', length };
  }
  if (hasBody(framing) && NO_BODY_METHODS.has(method))
    return { ok: false, status: 400, reason: `a ${method} request may not carry a body` };
  return { ok: true, framing };
}

/** True when the request sends body bytes upstream. */
export function hasBody(framing: Framing): boolean {
  return framing.kind === 'chunked' || (framing.kind === 'length' && framing.length > 0);
}

/** The framing header to send upstream, to append to the forwarded headers. */
export function framingHeaders(framing: Framing): string[] {
  if (framing.kind === 'length') return ['Content-Length', String(framing.length)];
  if (framing.kind === 'chunked') return ['Transfer-Encoding', 'chunked'];
  return [];
}

/**
 * The full header list for the upstream: identity headers first, then the client's (filtered), then the
 * framing, then `upgrade` (the protocols to offer upstream) when given; or a 431 refusal when that is more than MAX_REQUEST_HEADERS fields.
 */
export function upstreamHeaders(
  conn: { stamps: string[]; policy: HeaderPolicy; defaultHost: string },
  req: http.IncomingMessage,
  framing: Framing,
  upgrade?: string,
): { ok: true; headers: string[] } | ({ ok: false } & Refusal) {
  // One array, filled in place: this runs for every forwarded request.
  const headers = conn.stamps.slice();
  if (req.headers.host === undefined) headers.push('Host', conn.defaultHost);
  // Expect only goes with a body (undici refuses it too). node:http's server has answered a 100-continue
  // itself; a request without a body (an upgrade's included) has nothing to wait for.
  clientHeaders(req.rawHeaders, headers, conn.policy, !hasBody(framing));
  if (framing.kind !== 'none') headers.push(...framingHeaders(framing));
  // No body: said so, for a method node:http would otherwise send an empty chunked body for.
  else if (!UNFRAMED_BY_DEFAULT.has(req.method ?? '')) headers.push('Content-Length', '0');
  // An upgrade goes on a connection of its own that is never reused, so Upgrade is the only token needed.
  if (upgrade !== undefined) headers.push('Upgrade', upgrade, 'Connection', 'Upgrade');
  // A request with a body is the last on its upstream connection, asked before the upstream answers: an
  // upstream that does not read a body it did not want (http.server, werkzeug) parses the body as its next
  // request as soon as it has answered, so deciding not to reuse the connection afterwards is too late.
  // Bodiless requests leave nothing behind and keep the connection alive (see the README's cost figures).
  else if (hasBody(framing)) headers.push('Connection', 'close');
  if (headers.length / 2 > MAX_REQUEST_HEADERS)
    return {
      ok: false,
      status: 431,
      reason: `more than ${MAX_REQUEST_HEADERS} header fields with the identity headers added`,
    };
  return { ok: true, headers };
}
