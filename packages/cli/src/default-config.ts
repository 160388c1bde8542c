import os from 'node:os';
import type { ParsedIdentityConfig } from '@peerauth/identity';
import { parseIdentityConfig } from '@peerauth/identity';

/**
 * The config used without --config: whoever runs peerauth is the person "owner" (by name and by uid, so
 * it holds even where the passwd entry cannot be read), everyone else gets the fallback role "public".
 */
export function defaultIdentityConfig(): ParsedIdentityConfig {
  const me = os.userInfo();
  return parseIdentityConfig({
    roles: ['owner', 'public'],
    fallbackRole: 'public',
    people: [{ name: 'owner', role: 'owner', osUsername: me.username, uids: [me.uid] }],
  });
}
