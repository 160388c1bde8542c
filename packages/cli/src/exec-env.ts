import { PeerAuthError } from '@peerauth/core-native';
import { findControlCharacter, quoteValue, type UnixIdentity } from '@peerauth/identity';
import { identityFields } from './identity-view.js';

/**
 * An identity value that cannot go into a child's environment as it is: NUL cannot be passed at all, and a
 * newline lets whatever reads the environment line by line see a second variable. The config refuses
 * such names up front; this covers values that come with a connection (a username from the user database).
 */
export class UnexportableValueError extends PeerAuthError {
  declare readonly code: 'PEERAUTH_EXEC_UNEXPORTABLE_VALUE';
  constructor(
    readonly variable: string,
    value: string,
    codePoint: string,
  ) {
    // Quoted with every control character escaped: this message goes into the log.
    super(
      'PEERAUTH_EXEC_UNEXPORTABLE_VALUE',
      `${variable} would hold a control character (${codePoint}): ${quoteValue(value)}`,
    );
  }
}

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
