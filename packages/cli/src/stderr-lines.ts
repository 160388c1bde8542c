import type { Readable } from 'node:stream';

/**
 * The most of one child stderr line that goes into the log, in bytes. Without a bound a child writing
 * without newlines grew the server by its whole output and ended it (`Invalid string length`).
 */
export const STDERR_LINE_BYTES = 8192;

export interface StderrLineSink {
  /** A whole line (without its `\n` or `\r\n`), or the first STDERR_LINE_BYTES of a longer one (`truncated`). */
  line(text: string, truncated: boolean): void;
  /** The end of a truncated line: how many of its bytes were dropped after the part already given. */
  dropped(bytes: number): void;
}

/** The length of `buf`'s first `max` bytes cut back to a whole UTF-8 character. */
function wholeCharacters(buf: Buffer, max: number): number {
  if (buf.length <= max) return buf.length;
  let end = max;
  // Continuation bytes are 10xxxxxx: step back to the start of the character the cut would split.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return end;
}

/**
 * Reads `input` a line at a time holding at most `maxBytes` of it. A longer line is given at once as its
 * first `maxBytes` (cut at a character), marked truncated; the rest of it is counted, not kept, and its
 * count given when the line ends (or the input does). Bytes, not strings, so nothing is decoded but what
 * is logged.
 */
export function readBoundedLines(input: Readable, sink: StderrLineSink, maxBytes = STDERR_LINE_BYTES): void {
  let parts: Buffer[] = [];
  let held = 0;
  /** Bytes dropped from the current line, or -1 while it is within the bound. */
  let dropped = -1;

  const emit = (buf: Buffer, truncated: boolean): void => {
    let end = buf.length;
    if (!truncated && end > 0 && buf[end - 1] === 0x0d) end--;
    sink.line(buf.toString('utf8', 0, end), truncated);
  };
  const take = (piece: Buffer): void => {
    if (dropped >= 0) {
      dropped += piece.length;
      return;
    }
    if (held + piece.length <= maxBytes) {
      // A copy: a view would keep the whole chunk it came from.
      parts.push(Buffer.from(piece));
      held += piece.length;
      return;
    }
    const line = Buffer.concat([...parts, piece]);
    const kept = wholeCharacters(line, maxBytes);
    emit(line.subarray(0, kept), true);
    parts = [];
    held = 0;
    dropped = line.length - kept;
  };
  const endLine = (): void => {
    if (dropped >= 0) sink.dropped(dropped);
    else emit(Buffer.concat(parts, held), false);
    parts = [];
    held = 0;
    dropped = -1;
  };

  input.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, nl));
      endLine();
      start = nl + 1;
    }
    if (start < chunk.length) take(chunk.subarray(start));
  });
  input.on('end', () => {
    if (held > 0 || dropped >= 0) endLine();
  });
}
