// Reading an identity config file: bounded, never blocking on a FIFO or device, and with JSON errors that
// name the line and column (and repeated keys, which JSON.parse would silently merge).
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { type ParsedIdentityConfig, parseIdentityConfig } from './config.js';
import { formatIssuePath } from './config-checks.js';
import { IdentityConfigError } from './errors.js';
import { findJsonSyntaxError, findRepeatedKeys, lineAndColumn } from './json-syntax.js';

/** Where JSON.parse failed, as line and column: its own message has no position on every Node version. */
function jsonErrorMessage(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const found = findJsonSyntaxError(text);
  const { line, column } = lineAndColumn(text, found?.offset ?? text.length);
  const what = found?.message ?? 'SyntaxError';
  return `invalid JSON at line ${line} column ${column} (${what}): ${message}`;
}

/** Larger than any real config: the cap keeps /dev/zero or a huge file from filling memory. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

function fileIssue(path: string, message: string, cause?: unknown): IdentityConfigError {
  return new IdentityConfigError([{ path: '(file)', segments: [], message }], path, { cause });
}

/**
 * Reads a config file: a regular file only (a FIFO would block forever, a device never end) and at most
 * MAX_CONFIG_BYTES. O_NONBLOCK makes opening a FIFO return at once, so fstat can refuse it.
 */
async function readConfigFile(path: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw fileIssue(path, `cannot read: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw fileIssue(path, 'not a regular file (a FIFO, device or directory is never read)');
    if (st.size > MAX_CONFIG_BYTES)
      throw fileIssue(path, `${st.size} bytes is more than the ${MAX_CONFIG_BYTES} bytes a config may have`);
    // The size can grow between fstat and read: read one byte past the cap to notice.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES)
        throw fileIssue(path, `more than the ${MAX_CONFIG_BYTES} bytes a config may have`);
    }
    return buf.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof IdentityConfigError) throw err;
    throw fileIssue(path, `cannot read: ${err instanceof Error ? err.message : String(err)}`, err);
  } finally {
    await handle.close();
  }
}

/** Read a JSON config file. Unreadable file, bad JSON and bad config all throw IdentityConfigError naming the file. */
export async function loadIdentityConfig(path: string): Promise<ParsedIdentityConfig> {
  // Editors on Windows save UTF-8 with a byte order mark; it is not part of the JSON.
  const text = (await readConfigFile(path)).replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new IdentityConfigError(
      [{ path: '(root)', segments: [], message: jsonErrorMessage(text, err) }],
      path,
      {
        cause: err,
      },
    );
  }
  const repeated = findRepeatedKeys(text);
  if (repeated.length > 0)
    throw new IdentityConfigError(
      repeated.map((r) => ({ path: formatIssuePath(r.segments), segments: r.segments, message: r.message })),
      path,
    );
  return parseIdentityConfig(value, path);
}
