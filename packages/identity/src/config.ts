// The identity config: parseIdentityConfig validates (config-checks.ts, on the schema of config-schema.ts),
// fills in defaults and freezes; loadIdentityConfig (config-file.ts) reads it from a file and parses it here.
import { validateIdentityConfig } from './config-checks.js';
import { configSchema, type IdentityConfig } from './config-schema.js';
import { IdentityConfigError } from './errors.js';

export { formatIssuePath, validateIdentityConfig } from './config-checks.js';
export {
  DEFAULT_FALLBACK_ROLE,
  DEFAULT_TRUST_DOMAIN,
  type IdentityConfig,
  LOOKUP_FAILURE_MODES,
  type LookupFailureMode,
  type Person,
  type ProxyConfig,
  type SpiffeMapRule,
  type TrustDomainConfig,
} from './config-schema.js';

/**
 * Freeze the parsed config's own structure: every identity shares these person objects, and code serving
 * one peer must not be able to change another's role. Values of unknown person fields are the caller's
 * objects (zod passes them through), so they are left alone.
 */
function freezeConfig(config: IdentityConfig): IdentityConfig {
  for (const person of config.people) {
    if (person.uids) Object.freeze(person.uids);
    if (person.spiffeIds) Object.freeze(person.spiffeIds);
    Object.freeze(person);
  }
  Object.freeze(config.people);
  if (config.roles) Object.freeze(config.roles);
  Object.freeze(config.groupRoles);
  for (const rule of config.userMaps) Object.freeze(rule);
  Object.freeze(config.userMaps);
  for (const rule of config.spiffeMaps) Object.freeze(rule);
  Object.freeze(config.spiffeMaps);
  for (const domain of Object.values(config.trustDomains)) Object.freeze(domain);
  Object.freeze(config.trustDomains);
  if (config.proxy) {
    if (config.proxy.dropHeaders) Object.freeze(config.proxy.dropHeaders);
    if (config.proxy.forwardHeaders) Object.freeze(config.proxy.forwardHeaders);
    Object.freeze(config.proxy);
  }
  return Object.freeze(config);
}

declare const parsedBrand: unique symbol;

/**
 * An IdentityConfig that parseIdentityConfig validated, filled in and froze. createResolver and
 * createPeerServer use it as it is instead of validating it again.
 */
export type ParsedIdentityConfig = IdentityConfig & { readonly [parsedBrand]: true };

// Module-private, so the mark cannot be forged: a plain object that merely looks parsed is validated.
const parsedConfigs = new WeakSet<object>();

/** True for a config that parseIdentityConfig (or loadIdentityConfig) returned. */
export function isParsedIdentityConfig(value: unknown): value is ParsedIdentityConfig {
  return typeof value === 'object' && value !== null && parsedConfigs.has(value);
}

/**
 * Validate, fill in defaults and freeze. Throws IdentityConfigError listing every problem. A config this
 * function already returned comes back as it is.
 */
export function parseIdentityConfig(value: unknown, file?: string): ParsedIdentityConfig {
  if (isParsedIdentityConfig(value)) return value;
  const issues = validateIdentityConfig(value);
  if (issues.length > 0) throw new IdentityConfigError(issues, file);
  const { $schema: _schema, ...config } = configSchema.parse(value);
  const parsed = freezeConfig(config as IdentityConfig);
  parsedConfigs.add(parsed);
  return parsed as ParsedIdentityConfig;
}
