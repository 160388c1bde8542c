import { addonOrigin, isPeerAuthError } from '@peerauth/core-native';
import { CliError, EXIT_ERROR } from './exit-codes.js';

/**
 * The serving commands read every caller's credentials through the addon: without one, a server that
 * announced its socket would reset every connection. They refuse to start instead, with the addon's own
 * error (PEERAUTH_NATIVE_ADDON_MISSING carries the commands that build one).
 */
export function requireCredentials(): void {
  try {
    addonOrigin();
  } catch (err) {
    if (isPeerAuthError(err)) throw new CliError((err as Error).message, EXIT_ERROR, err);
    throw err;
  }
}
