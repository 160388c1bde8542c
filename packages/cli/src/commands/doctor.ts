import fs from 'node:fs';
import path from 'node:path';
import { addonOrigin, platformSupport } from '@peerauth/core-native';
import { defaultSocketPath } from '@peerauth/server';
import { loadConfig } from '../common.js';

const yes = (b: boolean) => (b ? 'yes' : 'no');

/** Reports what this machine gives peerauth; exit 1 when something essential is missing. */
export async function doctorCommand(opts: { socket?: string; config?: string }): Promise<number> {
  let ok = true;
  const out: string[] = [];
  try {
    const origin = addonOrigin();
    out.push(
      `addon       loaded from ${origin.source === 'prebuild' ? 'a prebuild' : 'a local build'}: ${origin.path}`,
    );
    const s = platformSupport();
    out.push(`platform    ${s.platform}: pid ${yes(s.pid)}, groups ${yes(s.groups)}, pidfd ${yes(s.pidfd)}`);
  } catch (err) {
    ok = false;
    out.push(`addon       NOT LOADED: ${(err as Error).message}`);
  }

  const socket = opts.socket ?? defaultSocketPath();
  const dir = path.dirname(socket);
  out.push(`socket      ${socket}`);
  try {
    const st = fs.statSync(dir);
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    const mine = st.uid === process.getuid?.();
    out.push(`directory   ${dir}: mode ${mode}, owner uid ${st.uid}${mine ? ' (you)' : ''}`);
    if (!mine) {
      ok = false;
      out.push('            PROBLEM: the directory belongs to someone else; the server will refuse it');
    } else if (st.mode & 0o022) {
      out.push('            warning: others can write to the directory');
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    out.push(
      `directory   ${dir}: ${code === 'ENOENT' ? 'not there yet (the server creates it 0700)' : (err as Error).message}`,
    );
  }
  try {
    const config = await loadConfig(opts.config);
    out.push(
      `config      ${opts.config ?? '(embedded default)'}: ok, ${config.people.length} people, fallback "${config.fallbackRole}"`,
    );
  } catch (err) {
    ok = false;
    out.push(`config      ${opts.config}: ${(err as Error).message}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return ok ? 0 : 1;
}
