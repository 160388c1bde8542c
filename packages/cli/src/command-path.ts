import fs from 'node:fs';
import path from 'node:path';
import { ExecCommandError } from './errors.js';

// What execvp(3) searches when PATH is unset.
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

function problemWith(file: string): string | null {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
  }
  if (stat.isDirectory()) return 'is a directory';
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return 'not executable';
  }
  return null;
}

/**
 * The file `command` runs, searched like execvp(3) does (a name with a slash as it is, otherwise each PATH
 * entry in turn), so a command that cannot run fails at start rather than at every connection.
 */
export function findExecutable(command: string, envPath = process.env.PATH ?? DEFAULT_PATH): string {
  if (command === '') throw new ExecCommandError('exec: the command is empty');
  if (command.includes('/')) {
    const problem = problemWith(command);
    if (problem) throw new ExecCommandError(`exec: cannot run ${JSON.stringify(command)}: ${problem}`);
    return path.resolve(command);
  }
  for (const dir of envPath.split(':')) {
    // An empty entry means the current directory, as for execvp.
    const candidate = path.resolve(dir || '.', command);
    if (problemWith(candidate) === null) return candidate;
  }
  throw new ExecCommandError(`exec: cannot run ${JSON.stringify(command)}: not found in PATH (${envPath})`);
}
