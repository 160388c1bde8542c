import type { UnixIdentity } from '@peerauth/identity';
import { describe, expect, it } from 'vitest';
import {
  clientHeaders,
  headerValue,
  IdentityValueError,
  identityHeaders,
  isIdentityHeader,
} from '../src/forwarded-headers.js';
import { foldHeaderName, headerPolicy } from '../src/header-namespace.js';

function identity(over: Partial<UnixIdentity> = {}): UnixIdentity {
  return {
    auth: 'unix',
    uid: 1000,
    gid: 100,
    pid: 42,
    groups: [100, 27],
    username: 'alice',
    person: null,
    role: 'member',
    fallback: false,
    spiffeId: 'spiffe://peerauth.local/uid-1000',
    selectors: ['unix:uid:1000', 'unix:group:users', 'unix:supplementary_group:sudo'],
    trail: [],
    ...over,
  };
}

describe('the header namespace', () => {
  it('compares names folded as CGI, PHP and lighttpd fold them: case, and every other character a separator', () => {
    for (const name of [
      'X_Peerauth_Role',
      'x-peerauth-new',
      'X-AUTH-REQUEST-EMAIL',
      'Remote_User',
      'x_webauth_user',
      'X.Peerauth.User',
      'X~Peerauth~Role',
      'X+Peerauth+Person',
      'x--peerauth__uid',
      '-X-Peerauth-Role',
      'Remote-Groups',
      'X-Remote-Extra-Scopes',
      'X-Webauth-Email',
      'X-Forwarded-Access-Token',
      'X-Forwarded-Client-Cert',
      'X-SSL-Client-S-DN',
      'X-Forwarded-Tls-Client-Cert-Info',
      'Forwarded',
      'X-Forwarded-For',
      'X_Real_IP',
      'Cf-Access-Authenticated-User-Email',
      'X-Goog-Authenticated-User-Email',
      'X-MS-CLIENT-PRINCIPAL-NAME',
      'X-Amzn-Oidc-Identity',
      'Tailscale-User-Login',
      'X-Pomerium-Claim-Email',
    ])
      expect(isIdentityHeader(name), name).toBe(true);
    for (const name of ['x-peerauthrole', 'xpeerauth-user', 'x-request-id', 'remoteuser', 'accept'])
      expect(isIdentityHeader(name), name).toBe(false);
  });

  it('foldHeaderName makes every run of other characters one separator, trimmed', () => {
    expect(foldHeaderName('X~Peerauth..User_')).toBe('x-peerauth-user');
    expect(foldHeaderName('__')).toBe('');
  });

  it('proxy.dropHeaders adds names and prefixes; proxy.forwardHeaders forwards only those (and Host)', () => {
    const drop = headerPolicy({ dropHeaders: ['X-Acme-User', 'X-Tenant-*'] });
    expect(drop.drops('x_acme_user')).toBe(true);
    expect(drop.drops('X-Tenant.Id')).toBe(true);
    expect(drop.drops('X-Tenantx')).toBe(false);
    expect(drop.drops('Accept')).toBe(false);
    const only = headerPolicy({ forwardHeaders: ['Accept', 'X-App-*', 'X-Peerauth-*'] });
    expect(only.drops('accept')).toBe(false);
    expect(only.drops('Host')).toBe(false);
    expect(only.drops('X-App-Trace')).toBe(false);
    expect(only.drops('Cookie')).toBe(true);
    // The built-in families are never forwarded, even when listed.
    expect(only.drops('X-Peerauth-Role')).toBe(true);
  });

  it('clientHeaders drops the namespace, hop-by-hop headers and Content-Length, keeping order', () => {
    const raw = [
      'Host',
      'x',
      'X_Peerauth_Uid',
      '0',
      'Content-Length',
      '3',
      'Connection',
      'close',
      'A',
      '1',
      'a',
      '2',
    ];
    expect(clientHeaders(raw)).toEqual(['Host', 'x', 'A', '1', 'a', '2']);
  });
});

describe('identity values', () => {
  it('every value decodes back with decodeURIComponent', () => {
    for (const v of ['alice', 'José', '50%off', 'a b', '%41'])
      expect(decodeURIComponent(headerValue('x', v)), v).toBe(v);
    expect(headerValue('x', 'ro%6Ft')).toBe('ro%256Ft');
  });

  it('control characters and lone surrogates are refused with IdentityValueError', () => {
    for (const v of ['a\r\nb', 'a\x00', 'a\x7f', 'a\x1b', '\ud800']) {
      expect(() => headerValue('username', v), JSON.stringify(v)).toThrow(IdentityValueError);
    }
  });

  it('identity headers: stamps in order, group names comma-separated with commas in names encoded', () => {
    const h = identityHeaders(
      identity({
        selectors: ['unix:group:users', 'unix:supplementary_group:a,b', 'unix:supplementary_group:users'],
      }),
    );
    const map = Object.fromEntries(h.flatMap((v, i) => (i % 2 ? [] : [[v, h[i + 1]]])));
    expect(h[0]).toBe('X-Peerauth-Uid');
    expect(map).toMatchObject({
      'X-Peerauth-Gid': '100',
      'X-Peerauth-Pid': '42',
      'X-Peerauth-Groups': '100,27',
      'X-Forwarded-Groups': 'users,a%2Cb',
    });
  });

  it('unknown pid, groups and username leave their headers out', () => {
    const h = identityHeaders(identity({ pid: null, groups: null, username: null, selectors: [] }));
    const names = h.filter((_, i) => i % 2 === 0);
    expect(names).toEqual([
      'X-Peerauth-Uid',
      'X-Peerauth-Gid',
      'X-Peerauth-Role',
      'X-Peerauth-Spiffe-Id',
      'X-Peerauth-Auth',
    ]);
  });
});
