// The shared "require or skip" rule for optional system tools (test-fixtures/tools.ts): a missing tool skips
// with a printed reason, and fails under PEERAUTH_REQUIRE_TOOLS=1 (what CI sets).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { findTool, hasTool, MissingToolError } from '../../../test-fixtures/tools.js';
import { tempDir } from './helpers.js';

describe('test-fixtures/tools: hasTool', () => {
  const dir = tempDir();
  const tool = path.join(dir, 'pa-fake-tool');
  fs.writeFileSync(tool, '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'pa-not-executable'), '', { mode: 0o644 });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds an executable on the given PATH only', () => {
    expect(findTool('pa-fake-tool', `/nonexistent${path.delimiter}${dir}`)).toBe(tool);
    expect(findTool('pa-fake-tool', '/nonexistent')).toBeUndefined();
    expect(findTool('pa-not-executable', dir)).toBeUndefined();
  });

  it('a present tool: true, nothing printed', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(hasTool('pa-fake-tool', 'x', { PATH: dir, PEERAUTH_REQUIRE_TOOLS: '1' })).toBe(true);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('a missing tool: false with a printed reason naming the tool and the variable', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(hasTool('socat', 'half-close through socat', { PATH: dir })).toBe(false);
      expect(warn).toHaveBeenCalledOnce();
      expect(String(warn.mock.calls[0]![0])).toMatch(
        /half-close through socat: skipped, `socat` is not installed \(apt-get install socat.*PEERAUTH_REQUIRE_TOOLS=1/,
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('a missing tool under PEERAUTH_REQUIRE_TOOLS=1: MissingToolError, so the test file fails', () => {
    expect(() =>
      hasTool('socat', 'half-close through socat', { PATH: dir, PEERAUTH_REQUIRE_TOOLS: '1' }),
    ).toThrow(MissingToolError);
    expect(() =>
      hasTool('socat', 'half-close through socat', { PATH: dir, PEERAUTH_REQUIRE_TOOLS: '0' }),
    ).not.toThrow();
  });
});
