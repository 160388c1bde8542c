// Generated requests for the differential test: what a client may try against the proxy (methods,
// framings, pipelining, identity header spellings, header floods, bodies that embed forged requests),
// from a seeded PRNG so a failure can be replayed.
import net from 'node:net';

/** mulberry32: small, fast and good enough to spread test cases; the same seed gives the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const IDENTITY_NAMES = [
  'x-peerauth-uid',
  'x-peerauth-gid',
  'x-peerauth-pid',
  'x-peerauth-groups',
  'x-peerauth-user',
  'x-peerauth-person',
  'x-peerauth-role',
  'x-peerauth-spiffe-id',
  'x-peerauth-not-yet-invented',
  'x-forwarded-user',
  'x-forwarded-groups',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-access-token',
  'remote-user',
  'x-remote-user',
  'x-remote-group',
  'x-webauth-user',
  'x-authenticated-user',
  'remote-groups',
  'x-remote-extra-scopes',
  'x-webauth-role',
  'x-forwarded-access-token',
  'x-forwarded-client-cert',
  'x-ssl-client-s-dn',
  'x-forwarded-for',
  'forwarded',
  'x-real-ip',
];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];
const NO_BODY = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

export interface Generated {
  path: string;
  bytes: string;
  /** Body length the upstream must see if the request reaches it. */
  bodyLength: number;
  /**
   * forward: well-formed, the proxy must forward it (unless an earlier one on its connection ended it);
   * refuse: it must never reach the upstream; either: parsers differ on it (node versions, for one).
   */
  outcome: 'forward' | 'refuse' | 'either';
  /** After this request the connection may end (error, HTTP/1.0 without keep-alive, upgrade). */
  ends: boolean;
}

export interface GeneratedConnection {
  id: number;
  requests: Generated[];
  /** The bytes in the writes they are sent in, split at random points. */
  writes: string[];
}

export function generate(seed: number, count: number): GeneratedConnection[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;

  const spell = (name: string): string =>
    // `_` is what WSGI and Rack fold `-` into; `.`, `~` and `+` what PHP and CGI fold too.
    [...name]
      .map((c) =>
        c === '-' && chance(0.4) ? pick(['_', '_', '.', '~', '+']) : chance(0.3) ? c.toUpperCase() : c,
      )
      .join('');
  const forgedHeaders = (): string => {
    let out = '';
    const n = chance(0.2) ? 0 : 1 + Math.floor(rand() * 6);
    for (let i = 0; i < n; i++)
      out += `${spell(pick(IDENTITY_NAMES))}: ${pick(['0', 'root', 'owner', 'admin', ''])}\r\n`;
    return out;
  };
  const smuggled = (): string =>
    `GET /smuggled HTTP/1.1\r\nHost: x\r\n${forgedHeaders()}X-Peerauth-Uid: 0\r\n\r\n`;

  const connections: GeneratedConnection[] = [];
  let index = 0;
  while (index < count) {
    const requests: Generated[] = [];
    const perConnection = 1 + Math.floor(rand() * 5);
    for (let k = 0; k < perConnection && index < count; k++, index++) {
      const path = `/d/${index}`;
      const method = pick(METHODS);
      const version = chance(0.2) ? '1.0' : '1.1';
      let head = `${method} ${path} HTTP/${version}\r\nHost: x\r\n`;
      let outcome: Generated['outcome'] = 'forward';
      let ends = false;
      if (version === '1.0') {
        if (chance(0.5)) {
          head += 'Connection: keep-alive\r\n';
          // An upstream answer without a length (php -S, CGI) cannot be relayed to an HTTP/1.0 client on a
          // kept-alive connection: that connection then closes after it, and what the client pipelined
          // after it is never forwarded (requests go upstream one at a time).
          ends = true;
        } else {
          // Bytes after a request that closes its connection are ignored; that request is still answered.
          ends = true;
        }
      }
      head += forgedHeaders();
      const filler = chance(0.1)
        ? 80 + Math.floor(rand() * 40)
        : chance(0.03)
          ? 1000
          : Math.floor(rand() * 5);
      for (let i = 0; i < filler; i++) head += chance(0.5) ? 'a:\r\n' : `x-f${i}: ${i}\r\n`;
      // Forwarded (stamped) as an ordinary request; its connection closes unless the upstream says 101.
      const upgrade = chance(0.04);
      if (upgrade) {
        head += 'Connection: Upgrade\r\nUpgrade: websocket\r\n';
        ends = true;
      }
      head += forgedHeaders();

      const framing = pick(['none', 'none', 'length', 'chunked', 'both', 'double-length'] as const);
      let body = '';
      if (framing !== 'none') body = chance(0.5) ? smuggled() : 'x'.repeat(Math.floor(rand() * 300));
      let bytes: string;
      if (framing === 'none') bytes = `${head}\r\n`;
      else if (framing === 'length') bytes = `${head}Content-Length: ${body.length}\r\n\r\n${body}`;
      else if (framing === 'chunked') {
        const cut = Math.floor(rand() * body.length);
        const chunks = [body.slice(0, cut), body.slice(cut)].filter((c) => c.length > 0);
        bytes = `${head}Transfer-Encoding: chunked\r\n\r\n`;
        for (const c of chunks) bytes += `${c.length.toString(16)}\r\n${c}\r\n`;
        // Trailers are headers too, to some upstreams.
        bytes += `0\r\n${chance(0.5) ? forgedHeaders() : ''}\r\n`;
      } else if (framing === 'both') {
        bytes = `${head}Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
        outcome = 'refuse';
        ends = true;
      } else {
        bytes = `${head}Content-Length: ${body.length}\r\nContent-Length: ${body.length + 1}\r\n\r\n${body}`;
        outcome = 'refuse';
        ends = true;
      }
      const headerCount = bytes.slice(0, bytes.indexOf('\r\n\r\n')).split('\r\n').length - 1;
      const bodyDeclared = framing === 'chunked' || body.length > 0;
      // Transfer-Encoding is an HTTP/1.1 feature; what a 1.0 request with it means is for the parser to say.
      if (framing === 'chunked' && version === '1.0' && outcome === 'forward') {
        outcome = 'either';
        ends = true;
      }
      if (headerCount > 100 || (bodyDeclared && (NO_BODY.has(method) || upgrade))) {
        outcome = 'refuse';
        ends = true;
      }
      // Near the limit it depends on how many are identity headers (dropped) and how many stamps are added.
      else if (headerCount > 80 && outcome === 'forward') {
        outcome = 'either';
        ends = true;
      }
      requests.push({ path, bytes, bodyLength: body.length, outcome, ends });
    }
    const id = connections.length;
    const closing = `GET /end-${id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const all = requests.map((r) => r.bytes).join('') + closing;
    const writes: string[] = [];
    let rest = all;
    while (rest.length > 0 && writes.length < 3 && chance(0.5)) {
      const cut = 1 + Math.floor(rand() * rest.length);
      writes.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    if (rest.length) writes.push(rest);
    connections.push({ id, requests, writes });
  }
  return connections;
}

/** Sends one generated connection's bytes and resolves when the proxy closed it. */
export function play(socketPath: string, conn: GeneratedConnection): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    sock.on('error', () => {});
    sock.on('data', () => {});
    sock.on('close', () => resolve());
    (async () => {
      for (const w of conn.writes) {
        if (sock.destroyed) return;
        sock.write(w, 'latin1');
        await new Promise((r) => setImmediate(r));
      }
    })();
    // A failure guard only: every connection ends with a request asking to close. Generous: on a loaded
    // machine a slow upstream (a CGI process per request) can take many seconds for one connection's
    // requests, and cutting the connection aborts them as if the proxy had lost them.
    setTimeout(() => sock.destroy(), 180_000).unref();
  });
}

/** Runs connections `parallel` at a time. */
export async function playAll(socketPath: string, conns: GeneratedConnection[], parallel = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < conns.length) await play(socketPath, conns[next++]!);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
