// The pool's shared deadline queue: calls expire in order, settled calls are never aborted, and an
// idle queue holds no timer (so an idle pool does not keep the process alive).
import { describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../src/deadlines.js';

describe('Deadlines', () => {
  it('aborts unsettled calls once their deadline passes, never settled ones', async () => {
    const d = new Deadlines(30);
    const a = d.start();
    const b = d.start();
    const c = d.start();
    const heard: string[] = [];
    a.once('abort', () => heard.push('a'));
    b.once('abort', () => heard.push('b'));
    c.once('abort', () => heard.push('c'));
    d.settle(b);
    await vi.waitFor(() => expect(a.aborted && c.aborted).toBe(true), { timeout: 5000 });
    expect(b.aborted).toBe(false);
    expect(heard).toEqual(['a', 'c']);
    d.settle(a);
    d.settle(c);
  });

  it('a listener removed with off/removeListener is not called', async () => {
    const d = new Deadlines(10);
    const a = d.start();
    const listener = vi.fn();
    a.once('abort', listener);
    a.removeListener('abort', listener);
    const b = d.start();
    await vi.waitFor(() => expect(a.aborted && b.aborted).toBe(true), { timeout: 5000 });
    expect(listener).not.toHaveBeenCalled();
  });

  it('holds no timer once nothing is pending', () => {
    const d = new Deadlines(60_000);
    const handles = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = handles();
    const a = d.start();
    const b = d.start();
    expect(handles()).toBe(before + 1);
    d.settle(a);
    expect(handles()).toBe(before + 1);
    d.settle(b);
    expect(handles()).toBe(before);
    d.settle(b);
    expect(handles()).toBe(before);
  });
});
