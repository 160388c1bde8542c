import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../src/lifecycle.js';

describe('Lifecycle', () => {
  it('idle → starting → listening → stopping → closed, and listen() again starts over', () => {
    const life = new Lifecycle();
    expect([life.state, life.stopping]).toEqual(['idle', false]);
    life.startRequested();
    life.started();
    expect([life.state, life.stopping]).toEqual(['listening', false]);
    expect(life.stopRequested()).toBe(true);
    expect(life.stopRequested()).toBe(false);
    expect([life.state, life.stopping]).toEqual(['stopping', true]);
    life.closed();
    expect([life.state, life.stopping]).toEqual(['closed', true]);
    life.startRequested();
    expect([life.state, life.stopping]).toEqual(['starting', false]);
  });

  it('a close() during the start wins: the start finishing never makes it listening', () => {
    const life = new Lifecycle();
    life.startRequested();
    expect(life.stopRequested()).toBe(true);
    life.started();
    expect(life.state).toBe('stopping');
    life.startFailed();
    expect(life.state).toBe('stopping');
  });

  it('a failed start goes back to idle; the bind outcome and the socket file are taken once', () => {
    const life = new Lifecycle();
    life.startRequested();
    life.startFailed();
    expect(life.state).toBe('idle');
    const pending = { resolve: () => {}, reject: () => {} };
    life.pendingBind = pending;
    expect(life.takePendingBind()).toBe(pending);
    expect(life.takePendingBind()).toBeNull();
    expect(life.takeBound()).toBeNull();
  });
});
