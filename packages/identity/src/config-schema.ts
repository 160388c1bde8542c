// The identity config's types and its zod schema: the shape of each field, its defaults and its messages.
// Checks across fields are config-checks.ts's.
import { z } from 'zod';
import type { UserMapRule } from './usermaps.js';

export const DEFAULT_TRUST_DOMAIN = 'peerauth.local';
export const DEFAULT_FALLBACK_ROLE = 'public';

/**
 * What a failed or timed-out user/group lookup does: "reject" (default) refuses the peer, since nobody
 * knows who it is; "fallback" resolves it as if it had no passwd/group entry, which can admit a person
 * the config refuses (their role is never looked up) as the fallback role.
 */
export type LookupFailureMode = 'reject' | 'fallback';
export const LOOKUP_FAILURE_MODES: readonly LookupFailureMode[] = ['reject', 'fallback'];

export interface Person {
  name: string;
  role: string;
  osUsername?: string;
  uids?: number[];
  /**
   * SPIFFE IDs that are this person: a remote peer's X.509-SVID ID, or a local peer's own
   * `spiffe://<trustDomain>/uid-<uid>[/<executable>]`, so a workload keeps its person when it moves.
   */
  spiffeIds?: string[];
  /** Other identity channels (telegram, discord, email...) are kept as they are. */
  [channel: string]: unknown;
}

export interface IdentityConfig {
  trustDomain: string;
  fallbackRole: string;
  roles?: string[];
  people: Person[];
  groupRoles: Record<string, string>;
  userMaps: UserMapRule[];
  /** Whole-SPIFFE-ID patterns naming people, as userMaps do for usernames. */
  spiffeMaps: SpiffeMapRule[];
  /** The trust domains remote peers may come from, each with the file of its X.509 bundle (or none: see bundle). */
  trustDomains: Record<string, TrustDomainConfig>;
  lookupFailure: LookupFailureMode;
  /** `peerauth proxy` only: what it does with the client's request headers (see the CLI README). */
  proxy?: ProxyConfig;
}

export interface ProxyConfig {
  /** More client header names to drop, beside the built-in families; `X-Acme-*` drops a prefix. */
  dropHeaders?: string[];
  /** When set, the only client headers forwarded (names, or prefixes as `X-Acme-*`); everything else is dropped. */
  forwardHeaders?: string[];
}

export interface SpiffeMapRule {
  /** A regular expression over the whole SPIFFE ID (anchored), with the same syntax as userMaps' systemUser. */
  spiffeId: string;
  /** A person's name, or a template with `$1`.. for capture groups. */
  person: string;
  ignoreCase?: boolean;
}

export interface TrustDomainConfig {
  /**
   * Path of the PEM file with the trust domain's CA certificates (what spiffe-helper writes). Left out when
   * the bundle comes from the SPIFFE Workload API instead (a server's `tls.workloadApi`).
   */
  bundle?: string;
}

export const MAX_UID = 0xffffffff;
export const TOP_LEVEL_KEYS = [
  '$schema',
  'trustDomain',
  'fallbackRole',
  'roles',
  'people',
  'groupRoles',
  'userMaps',
  'spiffeMaps',
  'trustDomains',
  'lookupFailure',
  'proxy',
];
export const PROXY_KEYS = ['dropHeaders', 'forwardHeaders'];
export const USER_MAP_KEYS = ['systemUser', 'person', 'ignoreCase'];
export const SPIFFE_MAP_KEYS = ['spiffeId', 'person', 'ignoreCase'];
export const TRUST_DOMAIN_KEYS = ['bundle'];

const nonEmpty = z.string().min(1, 'must not be empty');
const uid = z
  .number()
  .int('must be an integer uid')
  .min(0, 'must be a uid in 0..4294967295')
  .max(MAX_UID, 'must be a uid in 0..4294967295');

const personSchema = z.looseObject({
  name: nonEmpty,
  role: nonEmpty,
  osUsername: nonEmpty.optional(),
  uids: z.array(uid).optional(),
  spiffeIds: z.array(nonEmpty).optional(),
});

const userMapSchema = z.strictObject({
  systemUser: nonEmpty,
  person: nonEmpty,
  ignoreCase: z.boolean().optional(),
});

const spiffeMapSchema = z.strictObject({
  spiffeId: nonEmpty,
  person: nonEmpty,
  ignoreCase: z.boolean().optional(),
});

// No bundle: the server takes the domain's bundle from the SPIFFE Workload API (tls.workloadApi).
const trustDomainSchema = z.strictObject({ bundle: nonEmpty.optional() });

// A header field name (RFC 9110 token), optionally ending in `*` for a prefix.
const headerPattern = z
  .string()
  .regex(
    /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/,
    'must be a header name (letters, digits, -), or a prefix ending in *',
  )
  .refine((v) => !v.slice(0, -1).includes('*'), 'only a trailing * is allowed (a prefix)');

const proxySchema = z.strictObject({
  dropHeaders: z.array(headerPattern).optional(),
  forwardHeaders: z.array(headerPattern).optional(),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  trustDomain: z.string().default(DEFAULT_TRUST_DOMAIN),
  fallbackRole: nonEmpty.default(DEFAULT_FALLBACK_ROLE),
  roles: z.array(nonEmpty).optional(),
  people: z.array(personSchema, {
    error: (issue) =>
      issue.input === undefined ? 'required: a list of people (it may be empty)' : undefined,
  }),
  groupRoles: z.record(z.string(), nonEmpty).default({}),
  userMaps: z.array(userMapSchema).default([]),
  spiffeMaps: z.array(spiffeMapSchema).default([]),
  trustDomains: z.record(z.string(), trustDomainSchema).default({}),
  lookupFailure: z
    .enum(['reject', 'fallback'], {
      error: 'must be "reject" (refuse the peer) or "fallback" (treat as no entry)',
    })
    .default('reject'),
  proxy: proxySchema.optional(),
});
