// A connecting user steers its child's stderr, which the server logs: here the child writes as many bytes
// without a newline as the client asks for (as `sh -c 'cat >&2'` would echo them). Without a bound, one line with no newline grew the server by its
// whole size and, big enough, ended it for everyone.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../../test-fixtures/root.js';
import { readBoundedLines, STDERR_LINE_BYTES } from '../src/stderr-lines.js';
import { type RunningCli, run, startCli, tempDir, waitFor } from './helpers.js';

const NOBODY = { uid: 65534, gid: 65534 };
// Well past what the runtime leaves as garbage between collections (tens of MiB), so holding it shows.
const SENT = 160 * 1024 * 1024;

// Reads a count and a word: writes that many 'a' to stderr without a newline, then a newline and the word.
const CHILD = `read n word; head -c "$n" /dev/zero | tr '\\0' a >&2; printf '\\n%s\\n' "$word" >&2`;

/** A client asking the child for `bytes` then `tail`; waits for the child to close the connection. */
const SENDER = `
const net = require('node:net');
const [socket, bytes, tail] = process.argv.slice(1);
const sock = net.connect(socket, () => sock.end(bytes + ' ' + tail + '\\n'));
sock.on('data', () => {});
sock.on('close', () => process.exit(0));
sock.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/** Peak resident memory of a process so far, in bytes (VmHWM). */
function peakRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const dirs: string[] = [];
const clis: RunningCli[] = [];
afterAll(async () => {
  for (const cli of clis) await cli.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describeAsRoot('peerauth exec: a child writing a line without end', () => {
  it(`another user's ${SENT >> 20} MiB stderr line is logged as its first ${STDERR_LINE_BYTES} bytes, marked, and the server stays small`, async () => {
    const dir = tempDir();
    dirs.push(dir);
    const cli = await startCli(['exec', '--mode', '0666', '--', 'sh', '-c', CHILD], path.join(dir, 'e.sock'));
    clis.push(cli);
    // The first connection warms the server up (pool, identity cache), so what follows measures the line.
    const warm = await run(process.execPath, ['-e', SENDER, cli.socket, '0', 'warm'], NOBODY);
    expect(warm.code).toBe(0);
    await waitFor(() => cli.stderr().includes('"stderr":"warm"'));
    const before = peakRss(cli.child.pid!);

    const r = await run(process.execPath, ['-e', SENDER, cli.socket, String(SENT), 'after'], NOBODY);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The line after the long one still comes through whole: the reader found its place again.
    await waitFor(() => cli.stderr().includes('"stderr":"after"'), 30_000);
    await waitFor(() => cli.stderr().includes('child stderr line truncated'));

    const lines = cli.stderr().trimEnd().split('\n');
    const longest = Math.max(...lines.map((l) => l.length));
    // The prefix, and the line's own fields (JSON escaping adds nothing to 'a').
    expect(longest).toBeLessThan(STDERR_LINE_BYTES + 1024);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const cut = records.find((l) => l.truncated === true);
    expect(cut?.stderr).toBe('a'.repeat(STDERR_LINE_BYTES));
    const rest = records.find((l) => l.msg === 'child stderr line truncated');
    expect(rest?.droppedBytes).toBe(SENT - STDERR_LINE_BYTES);
    // Holding the line (as a string, then as its JSON line) costs more than the line itself; bounded, the
    // growth is the chunks awaiting collection, the same for 48 MiB as for 160 MiB (about 33 MB here).
    expect(peakRss(cli.child.pid!) - before).toBeLessThan(SENT / 2);
    expect(await cli.stop()).toBe(0);
  }, 60_000);
});

describe('readBoundedLines', () => {
  function read(chunks: (string | Buffer)[], max: number): unknown[] {
    const input = new PassThrough();
    const seen: unknown[] = [];
    readBoundedLines(
      input,
      { line: (t, cut) => seen.push(cut ? ['cut', t] : t), dropped: (n) => seen.push(n) },
      max,
    );
    for (const c of chunks) input.write(c);
    input.end();
    return seen;
  }

  it('splits lines across chunks, drops CR before LF, and gives a last line without newline', async () => {
    const seen = read(['ab', 'c\r\nd', 'e\n\nf'], 8);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['abc', 'de', '', 'f']);
  });

  it('a line over the bound: its first bytes at once, marked, then the count of the rest at its end', async () => {
    const seen = read(['0123', '456789', 'xyz\nok\n', '0123456789'], 8);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([['cut', '01234567'], 5, 'ok', ['cut', '01234567'], 2]);
  });

  it('cuts at a whole character', async () => {
    // 'é' is two bytes: the bound falls in the middle of the fourth one.
    const seen = read([`${'é'.repeat(5)}\n`], 7);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([['cut', 'ééé'], 4]);
  });
});
