// The "systemd" side of socket activation, as systemd does it: bind and listen, put the socket at fd 3, set
// LISTEN_PID to this pid and LISTEN_FDS, then exec the service (which keeps the pid). The socket file stays,
// as systemd's does. For TCP it binds 127.0.0.1 on a free port and prints the port as its first line.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { bin } from './helpers.js';

const SYSTEMD = `
import os, socket, sys
kind, where, node, *argv = sys.argv[1:]
if kind == 'unix':
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(where)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    print(s.getsockname()[1], flush=True)
s.listen(16)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_PID'] = str(os.getpid())
os.environ['LISTEN_FDS'] = '1'
os.execv(node, [node] + argv)
`;

/**
 * Starts the CLI (`args`) under socket activation on a Unix socket at `where` (kind 'unix') or on TCP
 * 127.0.0.1 (kind 'tcp', `where` unused). The caller owns the process and its end.
 */
export function spawnActivated(
  kind: 'unix' | 'tcp',
  where: string,
  args: string[],
  options: SpawnOptions = {},
): ChildProcess {
  return spawn('python3', ['-c', SYSTEMD, kind, where, process.execPath, bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
}
