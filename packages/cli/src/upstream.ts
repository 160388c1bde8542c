import { CliError } from './exit-codes.js';

export type Upstream =
  | { kind: 'tcp'; host: string; port: number; label: string }
  | { kind: 'unix'; socketPath: string; label: string };

/** `http://host:port` or `unix:/path/to.sock`; anything else is a usage mistake named as such. */
export function parseUpstream(value: string): Upstream {
  if (value.startsWith('unix:')) {
    const socketPath = value.slice('unix:'.length);
    if (!socketPath.startsWith('/'))
      throw new CliError(`--upstream unix: needs an absolute path, got "${value}"`);
    return { kind: 'unix', socketPath, label: value };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--upstream must be http://host:port or unix:/path, got "${value}"`);
  }
  // Checked first: the other messages quote the URL, and a password must not reach a terminal or a log.
  if (url.username || url.password)
    throw new CliError(
      '--upstream must not carry credentials (user:password@): peerauth sends none upstream, and a password in a command line is visible to every local user',
    );
  if (url.protocol !== 'http:')
    throw new CliError(`--upstream must be http://host:port or unix:/path, got "${value}"`);
  if (url.pathname !== '/' || url.search)
    throw new CliError(`--upstream takes no path or query, got "${value}"`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', host, port: url.port ? Number(url.port) : 80, label: value };
}

export function connectOptions(u: Upstream): { host: string; port: number } | { path: string } {
  return u.kind === 'unix' ? { path: u.socketPath } : { host: u.host, port: u.port };
}

/**
 * The Host an upstream gets for a request whose client sent none (HTTP/1.0 allows that; the proxy speaks
 * HTTP/1.1 upstream, where it is required): the upstream's own address, as nginx ($proxy_host) and Go's
 * ReverseProxy send; `localhost` for a Unix socket.
 */
export function upstreamHost(u: Upstream): string {
  if (u.kind === 'unix') return 'localhost';
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return u.port === 80 ? host : `${host}:${u.port}`;
}
