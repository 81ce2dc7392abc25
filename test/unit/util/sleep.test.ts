import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep, waitAtMost } from '../../../src/util/sleep';

describe('waitAtMost', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns as soon as the work ends, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    let done!: () => void;
    const work = new Promise<void>((r) => (done = r));
    let returned = false;
    const waiting = waitAtMost(work, 10_000).then(() => (returned = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(returned).toBe(false);
    done();
    await waiting;
    expect(returned).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('goes on after `ms` when the work hangs', async () => {
    vi.useFakeTimers();
    let returned = false;
    const waiting = waitAtMost(new Promise(() => {}), 2_000).then(() => (returned = true));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(returned).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(returned).toBe(true);
  });

  it('throws the work’s rejection when it comes first, and clears the timer', async () => {
    vi.useFakeTimers();
    await expect(waitAtMost(Promise.reject(new Error('broken')), 5_000)).rejects.toThrow('broken');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('sleep', () => {
  it('ends early, returning false, when the signal aborts', async () => {
    const ac = new AbortController();
    const slept = sleep(10_000, ac.signal);
    ac.abort();
    await expect(slept).resolves.toBe(false);
    await expect(sleep(1)).resolves.toBe(true);
  });
});
