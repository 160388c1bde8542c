import type { ProxyConfig } from '@peerauth/identity';

/**
 * A header name as the upstreams that fold names see it: CGI and lighttpd (every character that is not a
 * letter or digit becomes `_`), PHP (`.` and `-` to `_`), WSGI and Rack. Lowercased, every run of other
 * characters made one `-`, and none at either end: `X~Peerauth.User`, `x_peerauth__user` and
 * `X-Peerauth-User` all fold to `x-peerauth-user`. Collapsing runs and trimming the ends folds more names
 * together than any one upstream does, so a drop decided on the folded name covers every upstream's.
 */
export function foldHeaderName(name: string): string {
  let out = '';
  let pendingSeparator = false;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    const alnum = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    if (!alnum) {
      pendingSeparator = out.length > 0;
      continue;
    }
    if (pendingSeparator) out += '-';
    pendingSeparator = false;
    out += String.fromCharCode(c);
  }
  return out;
}

/** One family of request headers an upstream may read as the caller (or as the caller's address). */
export interface HeaderFamily {
  /** Who sets these for an upstream, so who reads them. */
  origin: string;
  /** Exact names, folded. */
  names: string[];
  /** Prefixes, folded, each ending in `-`. */
  prefixes: string[];
}

/**
 * The headers the proxy owns: a client's copy is dropped, whatever its spelling. The CLI README's table of
 * dropped headers is this list; keep the two together.
 */
export const DROPPED_FAMILIES: readonly HeaderFamily[] = [
  { origin: 'peerauth (its own stamps)', names: [], prefixes: ['x-peerauth-'] },
  {
    origin: 'oauth2-proxy',
    names: [
      'x-forwarded-user',
      'x-forwarded-groups',
      'x-forwarded-email',
      'x-forwarded-preferred-username',
      'x-forwarded-access-token',
    ],
    prefixes: ['x-auth-request-'],
  },
  {
    origin: 'Authelia, Authentik (Remote-User, -Groups, -Email, -Name)',
    names: ['remote-user'],
    prefixes: ['remote-'],
  },
  {
    origin: 'Apache and nginx auth modules, Kubernetes front proxies (X-Remote-User, -Group, -Extra-*)',
    names: ['x-authenticated-user'],
    prefixes: ['x-remote-', 'x-authenticated-'],
  },
  {
    origin: 'Grafana auth proxy (X-WEBAUTH-USER, -EMAIL, -NAME, -GROUPS, -ROLE)',
    names: [],
    prefixes: ['x-webauth-'],
  },
  {
    origin: 'Google Cloud IAP',
    names: [],
    prefixes: ['x-goog-authenticated-', 'x-goog-iap-'],
  },
  { origin: 'Cloudflare Access', names: [], prefixes: ['cf-access-'] },
  {
    origin: 'Azure App Service authentication (EasyAuth)',
    names: ['x-ms-client-principal'],
    prefixes: ['x-ms-client-principal-', 'x-ms-token-'],
  },
  { origin: 'AWS ALB (OIDC and mutual TLS)', names: [], prefixes: ['x-amzn-oidc-', 'x-amzn-mtls-'] },
  {
    origin: 'Tailscale serve (Tailscale-User-Login, -Name, -Profile-Pic)',
    names: [],
    prefixes: ['tailscale-'],
  },
  { origin: 'Pomerium', names: [], prefixes: ['x-pomerium-'] },
  {
    origin:
      'client certificates: Envoy and Istio (XFCC), Traefik, nginx/HAProxy conventions, RFC 9440, Azure ARR',
    names: [
      'x-forwarded-client-cert',
      'client-cert',
      'client-cert-chain',
      'x-client-cert',
      'x-client-verify',
      'x-client-dn',
      'x-arr-clientcert',
    ],
    prefixes: ['x-forwarded-tls-client-', 'x-ssl-client-', 'ssl-client-', 'x-client-cert-'],
  },
  {
    origin: "the caller's address: RFC 7239, de-facto X-Forwarded-*, nginx, CDNs",
    names: [
      'forwarded',
      'x-real-ip',
      'x-client-ip',
      'true-client-ip',
      'cf-connecting-ip',
      'fastly-client-ip',
      'x-cluster-client-ip',
      'x-original-forwarded-for',
      'x-envoy-external-address',
    ],
    prefixes: ['x-forwarded-'],
  },
];

/** What to do with a client's request header, by name. */
export interface HeaderPolicy {
  /** True when the header must not reach the upstream. */
  drops(name: string): boolean;
}

interface Matcher {
  names: Set<string>;
  prefixes: string[];
}

function matches(m: Matcher, folded: string): boolean {
  if (m.names.has(folded)) return true;
  for (const p of m.prefixes) if (folded.startsWith(p)) return true;
  return false;
}

/** `X-Acme` is a name; `X-Acme-*` (or `X-Acme*`) a prefix. Folded like the names they are compared with. */
function matcherOf(patterns: readonly string[]): Matcher {
  const m: Matcher = { names: new Set(), prefixes: [] };
  for (const p of patterns) {
    if (p.endsWith('*')) {
      const base = p.slice(0, -1);
      m.prefixes.push(foldHeaderName(base) + (/[A-Za-z0-9]$/.test(base) ? '' : '-'));
    } else m.names.add(foldHeaderName(p));
  }
  return m;
}

const builtIn: Matcher = {
  names: new Set(DROPPED_FAMILIES.flatMap((f) => f.names)),
  prefixes: DROPPED_FAMILIES.flatMap((f) => f.prefixes),
};

/** Headers an allow-list always lets through: the request target, not a claim about the caller. */
const ALWAYS_FORWARDED = new Set(['host']);

/**
 * The policy from the config's `proxy` section: the built-in families plus `dropHeaders`; with
 * `forwardHeaders`, only those (and Host) are forwarded, and never one of the dropped families.
 */
export function headerPolicy(config: ProxyConfig | undefined): HeaderPolicy {
  const extra = config?.dropHeaders?.length ? matcherOf(config.dropHeaders) : null;
  const only = config?.forwardHeaders ? matcherOf(config.forwardHeaders) : null;
  return {
    drops(name) {
      const folded = foldHeaderName(name);
      if (matches(builtIn, folded)) return true;
      if (extra && matches(extra, folded)) return true;
      if (only) return !(ALWAYS_FORWARDED.has(folded) || matches(only, folded));
      return false;
    },
  };
}

/** The default policy: the built-in families only. */
export const DEFAULT_HEADER_POLICY = headerPolicy(undefined);
