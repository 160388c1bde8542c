// The pretty log format writes one line per event: a connection's audit event and the shutdown are each
// a single line (the fields follow the message as one JSON object), not a line per field.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlJson, startCli, tempDir, waitFor } from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = tempDir('pa28p-');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--log-format pretty', () => {
  it('one line per event, each with its time, level and the server', async () => {
    const cli = await startCli(['serve', '--log-format', 'pretty'], path.join(dir, 'p.sock'));
    await curlJson(cli.socket, '/whoami');
    await waitFor(() => cli.stderr().includes('peer connection closed'));
    await cli.stop();
    const lines = cli.stderr().trimEnd().split('\n');
    const header = new RegExp(`^\\[[0-9:.]+\\] (INFO|WARN|ERROR) \\(peerauth/${cli.child.pid}\\): `);
    for (const line of lines) expect(line).toMatch(header);
    // The connection's line (at info, "closed" carries the whole decision) and the shutdown's.
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => l.includes('peer connection closed'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('shutting down'))).toHaveLength(1);
  });
});
