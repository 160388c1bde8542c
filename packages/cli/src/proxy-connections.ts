import http from 'node:http';
import type net from 'node:net';
import type stream from 'node:stream';
import { formatError } from '@peerauth/core-native';
import type { Identity } from '@peerauth/identity';
import { type AdmitHook, peerOf } from '@peerauth/server';
import type { pino } from 'pino';
import { afterAnswer } from './answer-written.js';
import { IdentityValueError, identityHeaders } from './forwarded-headers.js';
import type { HeaderPolicy } from './header-namespace.js';
import type { Upstream } from './upstream.js';
import { UpstreamSession } from './upstream-session.js';

const kSpoiled = Symbol('peerauth.spoiled');

/**
 * Marks an upstream connection as never to be reused: after an early response, an unread or partial body
 * or an error, the proxy cannot know where the upstream's parser stands, and the next request on that
 * connection could be read as the tail of this one.
 */
export function spoil(socket: stream.Duplex | null | undefined): void {
  if (socket) (socket as stream.Duplex & { [kSpoiled]?: true })[kSpoiled] = true;
}

const kGuarded = Symbol('peerauth.guarded');

/**
 * Gives an upstream socket an 'error' listener for its whole life. node:http listens for a socket's errors
 * only while a request uses it: between a request's end and the agent taking the socket back it has none
 * (responseKeepAlive runs before 'free'), so a write that fails there (a client's last body chunk meeting
 * an upstream that answered and closed: EPIPE) would be an uncaught 'error' that ends the process. The
 * error itself still reaches the request while one is attached; here it only marks the socket spoiled.
 */
export function guardSocket(socket: stream.Duplex | null | undefined): void {
  const s = socket as (stream.Duplex & { [kGuarded]?: true }) | null | undefined;
  if (!s || s[kGuarded]) return;
  s[kGuarded] = true;
  s.on('error', () => spoil(s));
}

/** A keep-alive agent that closes a spoiled connection instead of pooling it. */
class UpstreamAgent extends http.Agent {
  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: stream.Duplex) => void,
  ): stream.Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    guardSocket(socket);
    return socket;
  }

  override keepSocketAlive(socket: stream.Duplex): boolean {
    if ((socket as stream.Duplex & { [kSpoiled]?: true })[kSpoiled]) return false;
    return (super.keepSocketAlive as (s: stream.Duplex) => boolean)(socket);
  }
}

/** What the proxy keeps per client connection. */
export interface ClientConnection {
  identity: Identity;
  /** The identity headers, computed once: the identity of a connection never changes. */
  stamps: string[];
  /** Which of the client's headers are dropped (the proxy's, shared by every connection). */
  policy: HeaderPolicy;
  /** The Host sent for a request without one (see upstreamHost). */
  defaultHost: string;
  /**
   * Upstream connections serve one client connection only, so whatever an upstream makes of one client's
   * bytes can never be attributed to another client's identity: the agent for requests with a body, the
   * session (one undici client) for the others and for the turns of both.
   */
  agent: http.Agent;
  session: UpstreamSession;
  /** Requests seen on this connection so far: each request's number in order. */
  requests: number;
  /**
   * The number of the first request the proxy answered itself with an error (Infinity while none): what
   * the client sent after it is not trusted to be framed as it claims, so no later request is forwarded,
   * and the connection closes after that answer. Earlier requests still get theirs.
   */
  haltedAt: number;
  /** Requests parsed on this connection and not yet answered (see holdPipelined). */
  waiting: number;
  /** True while holdPipelined keeps the client's socket from being read. */
  held: boolean;
}

/**
 * How many requests one client connection may have parsed and waiting for their answers before the proxy
 * stops reading it. Requests go upstream one at a time (see UpstreamSession), so more waiting only holds
 * memory (each parsed request keeps its IncomingMessage, ServerResponse and headers): 32 keeps a
 * pipelining client busy, costs a few hundred KB at most with the largest heads node:http accepts, and
 * node:http itself pauses a connection only when its answers pile up, never when its requests do.
 */
export const MAX_WAITING_REQUESTS = 32;

/** node:http's own pause state of a client socket (lib/_http_server.js), which holdPipelined shares. */
type HttpSocket = net.Socket & { _paused?: boolean; parser?: { resume(): void } | null };

/**
 * Counts a parsed request until its answer is written (or abandoned): above MAX_WAITING_REQUESTS the
 * client's socket is paused, and it is read again once half of them are answered. A plain socket.pause()
 * is not enough: node:http resumes the socket whenever a request is read unless its `_paused` flag is set,
 * so this pauses (and resumes) exactly as node:http does when its answers pile up (parserOnIncoming,
 * socketOnDrain); with the flag set node:http also pauses its parser once the bytes it already read are
 * parsed, so the bound is MAX_WAITING_REQUESTS plus what one read brought.
 */
export function holdPipelined(conn: ClientConnection, socket: net.Socket, res: http.ServerResponse): void {
  const s = socket as HttpSocket;
  conn.waiting++;
  if (conn.waiting > MAX_WAITING_REQUESTS) {
    conn.held = true;
    // Again for each request while over the bound: node:http resumes a socket it paused itself once its
    // answers drain, whatever the proxy wants.
    if (!s._paused) {
      s._paused = true;
      s.pause();
    }
  }
  afterAnswer(res, () => {
    conn.waiting--;
    if (!conn.held || conn.waiting > MAX_WAITING_REQUESTS / 2) return;
    conn.held = false;
    // Without a parser the socket is no longer node:http's (an upgrade took it): the upgrade resumes it.
    if (s.destroyed || !s._paused || !s.parser) return;
    // If node:http's answers still pile up it pauses again at the next request it reads.
    s._paused = false;
    s.parser?.resume();
    s.resume();
  });
}

// The identity headers of each admitted connection, computed by admitForwarding. A socket belongs to one
// server, so one map serves every proxy in the process.
const stampsOf = new WeakMap<net.Socket, string[]>();

/**
 * The proxy's part of the server's admission (its admit hook): a connection whose identity cannot be sent
 * as headers is refused there, before 'peer', with one audit line (rejected), and is never counted open.
 * An admitted connection's headers are computed once, here: the identity of a connection never changes.
 */
export const admitForwarding: AdmitHook = (identity, _credentials, socket) => {
  try {
    stampsOf.set(socket, identityHeaders(identity, socket.remoteAddress));
  } catch (err) {
    if (!(err instanceof IdentityValueError)) throw err;
    return formatError(err);
  }
  return true;
};

/**
 * The state of each client connection, made on its first request from what admission prepared; null (and
 * the connection destroyed, with an error line) for a connection admitForwarding did not prepare, which is
 * never forwarded.
 */
export function clientConnections(
  logger: pino.Logger,
  policy: HeaderPolicy,
  defaultHost: string,
  upstream: Upstream,
): (socket: net.Socket) => ClientConnection | null {
  const known = new WeakMap<net.Socket, ClientConnection | null>();
  return (socket) => {
    const seen = known.get(socket);
    if (seen !== undefined) return seen;
    const identity = peerOf(socket);
    const stamps = stampsOf.get(socket);
    if (!identity || !stamps) {
      // Every connection the server hands over was admitted with its headers; one without is a fault here.
      logger.error('a connection without prepared identity headers reached the proxy; closed');
      known.set(socket, null);
      socket.destroy();
      return null;
    }
    const conn = {
      identity,
      stamps,
      policy,
      defaultHost,
      agent: new UpstreamAgent({ keepAlive: true }),
      session: new UpstreamSession(upstream, (err) => {
        logger.error({ err: err.message }, 'upstream client failed; client connection closed');
        socket.destroy();
      }),
      requests: 0,
      haltedAt: Number.POSITIVE_INFINITY,
      waiting: 0,
      held: false,
    };
    known.set(socket, conn);
    socket.once('close', () => {
      conn.session.close();
      conn.agent.destroy();
    });
    return conn;
  };
}
