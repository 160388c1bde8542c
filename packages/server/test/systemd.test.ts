import { describe, expect, it } from 'vitest';
import { activationFromEnv, clearActivationEnv } from '../src/systemd.js';

describe('activationFromEnv', () => {
  it('uses fd 3 only when LISTEN_PID is this process and LISTEN_FDS >= 1', () => {
    expect(activationFromEnv({ LISTEN_PID: '123', LISTEN_FDS: '1' }, 123)).toEqual({
      fd: 3,
      count: 1,
    });
    expect(activationFromEnv({ LISTEN_PID: '123', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' }, 123)).toEqual({
      fd: 3,
      count: 2,
    });
  });

  it('ignores variables meant for another process, zero fds, and garbage', () => {
    expect(activationFromEnv({ LISTEN_PID: '124', LISTEN_FDS: '1' }, 123)).toBeNull();
    expect(activationFromEnv({ LISTEN_PID: '123', LISTEN_FDS: '0' }, 123)).toBeNull();
    expect(activationFromEnv({ LISTEN_PID: '123' }, 123)).toBeNull();
    expect(activationFromEnv({ LISTEN_PID: '12x', LISTEN_FDS: '1' }, 12)).toBeNull();
    expect(activationFromEnv({ LISTEN_PID: '123', LISTEN_FDS: '-1' }, 123)).toBeNull();
    expect(activationFromEnv({}, 123)).toBeNull();
  });

  it('clearActivationEnv removes the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'x', KEEP: 'y' };
    clearActivationEnv(env);
    expect(env).toEqual({ KEEP: 'y' });
  });
});
