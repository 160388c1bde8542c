// The Workload API endpoint as the SPIFFE Workload Endpoint spec writes it: `unix:///absolute/path` for a
// Unix socket (what SPIRE agents listen on) or `tcp://IP:PORT` (an IP address, never a name to resolve), from
// the option or from SPIFFE_ENDPOINT_SOCKET. An absolute path alone is taken as a Unix socket, for flags.
import net from 'node:net';
import path from 'node:path';
import { WorkloadApiError } from './errors.js';

export const ENDPOINT_ENV = 'SPIFFE_ENDPOINT_SOCKET';

export interface Endpoint {
  /** As given (or as read from SPIFFE_ENDPOINT_SOCKET), for messages. */
  given: string;
  /** What @grpc/grpc-js connects to. */
  target: string;
  /** The socket path of a `unix:` endpoint, null for `tcp:`. */
  socketPath: string | null;
}

function bad(given: string, detail: string): WorkloadApiError {
  return new WorkloadApiError(
    'PEERAUTH_WORKLOAD_BAD_ENDPOINT',
    `Workload API endpoint ${JSON.stringify(given)}: ${detail}`,
  );
}

export function parseEndpoint(value: string | undefined, env = process.env): Endpoint {
  const given = value ?? env[ENDPOINT_ENV];
  if (given === undefined || given === '')
    throw new WorkloadApiError(
      'PEERAUTH_WORKLOAD_BAD_ENDPOINT',
      `no Workload API endpoint: pass one (unix:///run/spire/agent/public/api.sock) or set ${ENDPOINT_ENV}`,
    );
  if (given.startsWith('/')) return unixEndpoint(given, path.normalize(given));
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw bad(given, 'expected unix:///absolute/path.sock, tcp://IP:PORT or an absolute socket path');
  }
  if (url.username || url.password || url.search || url.hash)
    throw bad(given, 'a Workload API endpoint carries no user, query or fragment');
  if (url.protocol === 'unix:') {
    if (url.host !== '')
      throw bad(given, 'a unix: endpoint names no host: write unix:///path (three slashes)');
    if (!url.pathname.startsWith('/') || url.pathname === '/')
      throw bad(given, 'expected an absolute socket path');
    return unixEndpoint(given, decodeURIComponent(url.pathname));
  }
  if (url.protocol === 'tcp:') {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(host) === 0) throw bad(given, 'a tcp: endpoint must name an IP address, not a host name');
    if (url.port === '' || url.pathname !== '') throw bad(given, 'expected tcp://IP:PORT');
    return {
      given,
      target: `${net.isIPv6(host) ? `ipv6:[${host}]` : `ipv4:${host}`}:${url.port}`,
      socketPath: null,
    };
  }
  throw bad(given, `scheme ${url.protocol} is neither unix: nor tcp:`);
}

function unixEndpoint(given: string, socketPath: string): Endpoint {
  if (socketPath.includes('\0')) throw bad(given, 'the path holds a NUL byte');
  return { given, target: `unix://${socketPath}`, socketPath };
}
