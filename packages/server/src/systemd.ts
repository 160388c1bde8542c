// systemd socket activation (sd_listen_fds(3)): the passed sockets start at fd 3, and the variables are
// meant for this process only, which LISTEN_PID proves.
export const SD_LISTEN_FDS_START = 3;

export interface Activation {
  fd: number;
  count: number;
}

/** Returns the first activation fd when LISTEN_PID names this process and LISTEN_FDS >= 1, else null. */
export function activationFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): Activation | null {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  if (!listenPid || !listenFds) return null;
  if (!/^\d+$/.test(listenPid) || Number(listenPid) !== pid) return null;
  if (!/^\d+$/.test(listenFds)) return null;
  const count = Number(listenFds);
  if (count < 1) return null;
  // LISTEN_FDNAMES is not read: the server serves fd 3 and names it by the socket's own address.
  return { fd: SD_LISTEN_FDS_START, count };
}

/** Clears the variables so child processes do not mistake the fds for their own (sd_listen_fds unset_environment). */
export function clearActivationEnv(env: NodeJS.ProcessEnv = process.env): void {
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
}

/**
 * Activation variables meant for another process: LISTEN_FDS is set but LISTEN_PID names someone else,
 * typically a wrapper (`npx`, a shell without exec) that started node as its child. sd_listen_fds says to
 * ignore them; the server warns, since the activation socket then has no one accepting on it.
 */
export function activationForAnother(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): { listenPid: string; pid: number } | null {
  const listenPid = env.LISTEN_PID;
  if (!listenPid || !env.LISTEN_FDS || Number(env.LISTEN_FDS) < 1) return null;
  return /^\d+$/.test(listenPid) && Number(listenPid) === pid ? null : { listenPid, pid };
}
