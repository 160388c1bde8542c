import http from 'node:http';
import { defaultSocketPath } from '@peerauth/server';
import { WhoamiFailedError } from '../errors.js';
import type { WhoamiBody } from '../identity-view.js';

// `peerauth serve` answers a refused caller with a 403 naming why; an older server (or one whose callers
// are not told) closes the connection at accept: depending on timing the request's write fails (EPIPE),
// the read sees a reset, or the response never starts ("socket hang up").
const CLOSED_UNANSWERED = new Set(['EPIPE', 'ECONNRESET']);

// whoami asks `peerauth serve`; a `peerauth proxy` forwards /whoami to its upstream, whose answer is not ours.
const NOT_SERVE =
  ' (whoami asks a `peerauth serve` socket; a `peerauth proxy` socket forwards the request to its upstream)';

/** The fields formatWhoami reads, so that another server's JSON is reported rather than crashing on it. */
function isWhoamiBody(value: unknown): value is WhoamiBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.uid === 'number' &&
    typeof v.gid === 'number' &&
    typeof v.role === 'string' &&
    typeof v.spiffeId === 'string' &&
    Array.isArray(v.selectors) &&
    (v.groups === null || Array.isArray(v.groups))
  );
}

function fetchWhoami(socketPath: string): Promise<WhoamiBody> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/whoami', headers: { host: 'localhost' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const refused = /^peerauth: connection refused \((.+)\)$/.exec(text.trim());
        if (res.statusCode === 403 && refused)
          return reject(
            new WhoamiFailedError(`${socketPath}: the server refused this connection (${refused[1]})`),
          );
        if (res.statusCode !== 200)
          return reject(
            new WhoamiFailedError(
              `${socketPath}: HTTP ${res.statusCode}: ${text.trim().slice(0, 200)}${NOT_SERVE}`,
            ),
          );
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return reject(
            new WhoamiFailedError(`${socketPath}: the answer is not JSON: ${text.slice(0, 200)}${NOT_SERVE}`),
          );
        }
        if (!isWhoamiBody(body))
          return reject(
            new WhoamiFailedError(`${socketPath}: the answer is not a peerauth whoami answer${NOT_SERVE}`),
          );
        resolve(body);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? 'no peerauth server is listening there'
          : CLOSED_UNANSWERED.has(err.code ?? '') || err.message === 'socket hang up'
            ? 'the server closed the connection without answering; a role policy (--allow-roles) may have refused you'
            : err.message;
      reject(new WhoamiFailedError(`${socketPath}: ${why}`));
    });
  });
}

export function formatWhoami(w: WhoamiBody): string {
  return [
    `user      ${w.username ?? '(no passwd entry)'} (uid ${w.uid}, gid ${w.gid})`,
    `person    ${w.person ?? '(none)'}`,
    `role      ${w.role}${w.fallback ? ' (fallback)' : ''}`,
    `pid       ${w.pid ?? '(unknown)'}`,
    `groups    ${w.groups === null ? '(not reported)' : w.groups.length ? w.groups.join(' ') : '(none)'}`,
    `spiffe    ${w.spiffeId}`,
    `selectors ${w.selectors.join('\n          ')}`,
  ].join('\n');
}

export async function whoamiCommand(opts: { socket?: string; json?: boolean }): Promise<number> {
  const body = await fetchWhoami(opts.socket ?? defaultSocketPath());
  process.stdout.write(opts.json ? `${JSON.stringify(body, null, 2)}\n` : `${formatWhoami(body)}\n`);
  return 0;
}
