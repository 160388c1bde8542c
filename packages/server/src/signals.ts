// Shutdown on SIGINT, SIGTERM and SIGHUP, shared by createPeerServer({ handleSignals: true }) and the CLI.
//
// Why the handlers stay installed for the whole shutdown: removing the last listener of a signal gives it
// back its default action, and a second signal (coreutils `timeout` sends one to the child and another to
// its process group within milliseconds; an impatient Ctrl-C) would then kill the process before it has
// cleaned up. So every later signal comes here too, and ends the process only once the first one's cleanup
// has removed the socket file and the private directory.

import { flushLogs } from './log-flush.js';

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface ShutdownSignals {
  /** The first signal received, or null. */
  readonly received: NodeJS.Signals | null;
  /** Removes the handlers (the signals get their default action back). */
  remove(): void;
  /**
   * The files are gone: from now on a further signal ends the process at once, and `exit(signal)` ends it
   * with that signal's usual status.
   */
  cleanedUp(): void;
  /** Removes the handlers and re-raises `signal`, so the process ends with the status a shell expects. */
  exit(signal: NodeJS.Signals): void;
}

/**
 * Calls `begin(signal)` on the first SIGINT/SIGTERM/SIGHUP. `begin` starts the shutdown and calls
 * `cleanedUp()` once the socket file and the private directory are gone (PeerServer.close() removes them
 * synchronously). A further signal before that is absorbed; after it, the process ends at once.
 */
export function onShutdownSignals(begin: (signal: NodeJS.Signals) => void): ShutdownSignals {
  let received: NodeJS.Signals | null = null;
  let clean = false;
  let pending: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (received === null) {
      received = signal;
      begin(signal);
      return;
    }
    if (clean) controls.exit(signal);
    else pending = signal;
  };
  const controls: ShutdownSignals = {
    get received() {
      return received;
    },
    remove() {
      for (const signal of SHUTDOWN_SIGNALS) process.removeListener(signal, handler);
    },
    cleanedUp() {
      clean = true;
      if (pending !== null) controls.exit(pending);
    },
    exit(signal) {
      // Dying by the signal skips process 'exit', where buffered audit lines would otherwise be written.
      flushLogs();
      controls.remove();
      process.kill(process.pid, signal);
    },
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, handler);
  return controls;
}
