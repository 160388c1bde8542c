import { createCredentialPool, formatError, isPeerAuthError } from '@peerauth/core-native';
import { createResolver } from '@peerauth/identity';
import { poolDirectory } from '@peerauth/server';
import { loadConfig } from '../common.js';
import { NoSuchUserError } from '../errors.js';
import { CliError, EXIT_ERROR } from '../exit-codes.js';
import { invalidFlagValue } from '../flag-values.js';

const LOOKUP_CODES = new Set([
  'PEERAUTH_IDENTITY_LOOKUP_FAILED',
  'PEERAUTH_LOOKUP_FAILED',
  'PEERAUTH_LOOKUP_TIMEOUT',
]);

/**
 * A failed or timed-out directory lookup is not "no such user": the server would refuse such a peer, so
 * resolve says so and exits 1 rather than printing an identity.
 */
async function lookingUp<T>(who: string, pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (isPeerAuthError(err) && LOOKUP_CODES.has(err.code)) {
      throw new CliError(
        `cannot resolve ${who}: lookup failed (${formatError(err)}); a server would refuse this peer`,
        EXIT_ERROR,
        err,
      );
    }
    throw err;
  }
}

/** Runs the identity pipeline for a uid or username, as the server would, and explains each stage. */
export async function resolveCommand(
  who: string,
  opts: { config?: string; json?: boolean },
): Promise<number> {
  const config = await loadConfig(opts.config);
  const pool = createCredentialPool({ threads: 1 });
  try {
    let uid: number;
    let gid: number;
    if (/^\d+$/.test(who)) {
      uid = Number(who);
      if (uid > 0xffffffff) throw invalidFlagValue(`uid out of range: ${who}`, EXIT_ERROR);
      gid = (await lookingUp(who, pool.lookupUser(uid)))?.gid ?? uid;
    } else {
      const user = await pool.lookupUserByName(who);
      if (!user) throw new NoSuchUserError(`no such user: ${who}`);
      uid = user.uid;
      gid = user.gid;
    }
    const resolver = createResolver(config, poolDirectory(pool));
    // Not a live peer: no pid, and the groups come from the directory, as for a peer whose kernel gives none.
    const identity = await lookingUp(who, resolver.resolve({ pid: null, uid, gid, groups: null }));
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(identity, null, 2)}\n`);
      return 0;
    }
    const lines = [`uid ${uid}`];
    for (const step of identity.trail)
      lines.push(`  -> ${step.stage.padEnd(8)} ${step.result ?? '(none)'}: ${step.detail}`);
    lines.push(`role      ${identity.role}${identity.fallback ? ' (fallback)' : ''}`);
    // The kernel reports a connected process's own groups (setgroups, newgrp, a login before a change):
    // the roles a server gives it follow those, which resolve cannot see.
    lines.push(
      'groups    from the user database (getgrouplist); a connected process may hold others, and the server uses those',
    );
    lines.push(`spiffe    ${identity.spiffeId}`);
    lines.push('selectors');
    for (const s of identity.selectors) lines.push(`  ${s}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await pool.close();
  }
}
