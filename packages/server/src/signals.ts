import type net from 'node:net';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * First SIGINT/SIGTERM: close the server (the socket file is removed at once) and let connections drain,
 * then re-raise the signal so the process ends with the usual status. The handlers are removed on the
 * first signal, so a second one terminates immediately, as an impatient operator expects.
 * Returns a function that removes the handlers.
 */
export function installSignalHandlers(server: net.Server): () => void {
  const handler = (signal: NodeJS.Signals) => {
    remove();
    server.close(() => {
      process.kill(process.pid, signal);
    });
  };
  const remove = () => {
    for (const signal of SIGNALS) process.removeListener(signal, handler);
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return remove;
}
