import { findControlCharacter, type UnixIdentity } from '@peerauth/identity';
import { UnexportableValueError } from './errors.js';
import { identityFields } from './identity-view.js';

// Defined in the error table (errors.ts); exported here too, beside the code that throws it.
export { UnexportableValueError };

export function identityEnv(id: UnixIdentity): Record<string, string> {
  const f = identityFields(id);
  return {
    PEERAUTH_UID: f.uid,
    PEERAUTH_GID: f.gid,
    PEERAUTH_PID: f.pid,
    PEERAUTH_USER: f.user,
    PEERAUTH_PERSON: f.person,
    PEERAUTH_ROLE: f.role,
    PEERAUTH_SPIFFE_ID: f.spiffeId,
  };
}

/** The PEERAUTH_* variables for a connection's child; throws UnexportableValueError rather than export a control character. */
export function connectionEnv(id: UnixIdentity): Record<string, string> {
  const env = identityEnv(id);
  for (const [variable, value] of Object.entries(env)) {
    const found = findControlCharacter(value);
    if (found) throw new UnexportableValueError(variable, value, found.codePoint);
  }
  return env;
}
