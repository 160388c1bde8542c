// The exit-flush registry: what must be written out before the process ends. Buffered log destinations
// register here (log-buffer.ts), and so do writers of last lines (the server's closing lines of connections
// still open); on process 'exit', or in flushLogs() for the ends that skip 'exit', the writers run first,
// then every buffer is written out synchronously.

/** A buffer that can write out everything it holds, synchronously. */
export interface Flushable {
  flushSync(): void;
}

const buffered = new Set<Flushable>();
const beforeFlush = new Set<() => void>();
let exitHooked = false;

// After pino's own exit handler (registered when a destination is made): this one writes again.
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', flushLogs);
}

/** Writes `buffer` out when the logs are flushed before the process ends; returns what takes it back. */
export function flushBeforeExit(buffer: Flushable): () => void {
  buffered.add(buffer);
  hookExit();
  return () => buffered.delete(buffer);
}

/**
 * Runs `write` whenever the logs are written out before the process ends (flushLogs(), process 'exit'),
 * before the buffers go out: the server writes the closing lines of connections still open there. Returns
 * the function that takes it back.
 */
export function writeBeforeExit(write: () => void): () => void {
  beforeFlush.add(write);
  hookExit();
  return () => beforeFlush.delete(write);
}

/** Writes out every buffered destination now; called before the process ends without an 'exit' event. */
export function flushLogs(): void {
  for (const write of beforeFlush) {
    try {
      write();
    } catch {
      // The process is ending: the other lines must still go out.
    }
  }
  for (const stream of buffered) {
    try {
      stream.flushSync();
    } catch {
      // A closed or broken stderr: nothing more can be written, and the process is ending anyway.
    }
  }
}
