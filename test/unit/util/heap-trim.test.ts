import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeapTrimmer, startHeapTrimmer, type HeapTrimPorts } from '../../../src/util/heap-trim';
import { canReduceMemory, reduceMemory, v8HeapTrimPorts } from '../../../src/util/gc';

const MiB = 1024 * 1024;

/** Ports over a scripted committed-heap size and clock; `reduce` shrinks the heap to `reducedTo`. */
function fakeHeap(reducedTo = 20 * MiB) {
  const state = { committed: 0, now: 0, reductions: 0, allowed: true };
  const ports: HeapTrimPorts = {
    committedBytes: () => state.committed,
    reduce: () => {
      if (!state.allowed) return false;
      state.reductions++;
      state.committed = reducedTo;
      return true;
    },
    now: () => state.now,
  };
  return { state, ports };
}

describe('HeapTrimmer', () => {
  const policy = { minShrinkBytes: 4 * MiB, minIntervalMs: 30_000 };

  it('does nothing while the committed heap only grows or holds steady', () => {
    const { state, ports } = fakeHeap();
    const t = new HeapTrimmer(ports, policy);
    for (const mib of [30, 34, 38, 38, 37, 38, 39]) {
      state.committed = mib * MiB;
      state.now += 2000;
      expect(t.check()).toBeNull();
    }
    expect(state.reductions).toBe(0);
  });

  it('trims once the heap shrank by the bound below its high, and starts over from the trimmed size', () => {
    const { state, ports } = fakeHeap(22 * MiB);
    const t = new HeapTrimmer(ports, policy);
    state.committed = 57 * MiB;
    state.now = 60_000;
    expect(t.check()).toBeNull();
    state.committed = 38.5 * MiB; // the collection that filled the pool
    state.now += 2000;
    expect(t.check()).toEqual({ beforeBytes: 38.5 * MiB, afterBytes: 22 * MiB, highBytes: 57 * MiB, ms: 0 });
    expect(state.reductions).toBe(1);
    // The heap grows back to its working size: no shrink below the new high, no trim.
    for (const mib of [26, 32, 38, 38.4]) {
      state.committed = mib * MiB;
      state.now += 40_000;
      expect(t.check()).toBeNull();
    }
    expect(state.reductions).toBe(1);
  });

  it('ignores shrinks smaller than the bound', () => {
    const { state, ports } = fakeHeap();
    const t = new HeapTrimmer(ports, policy);
    state.committed = 40 * MiB;
    t.check();
    state.committed = 36.5 * MiB;
    state.now = 100_000;
    expect(t.check()).toBeNull();
    state.committed = 35.9 * MiB;
    expect(t.check()).not.toBeNull();
  });

  it('waits the least interval between two trims, then trims the shrink it saw meanwhile', () => {
    const { state, ports } = fakeHeap(20 * MiB);
    const t = new HeapTrimmer(ports, policy);
    state.now = 50_000;
    state.committed = 50 * MiB;
    t.check();
    state.committed = 30 * MiB;
    expect(t.check()).not.toBeNull();
    state.committed = 45 * MiB;
    state.now += 10_000;
    t.check();
    state.committed = 25 * MiB;
    state.now += 10_000;
    expect(t.check()).toBeNull(); // 20 s after the last trim
    state.now += 10_001;
    expect(t.check()?.highBytes).toBe(45 * MiB);
    expect(state.reductions).toBe(2);
  });

  it('stops looking when this V8 refuses the collection', () => {
    const { state, ports } = fakeHeap();
    state.allowed = false;
    const t = new HeapTrimmer(ports, policy);
    state.committed = 50 * MiB;
    t.check();
    state.committed = 10 * MiB;
    state.now = 100_000;
    expect(t.check()).toBeNull();
    state.allowed = true;
    state.now += 100_000;
    expect(t.check()).toBeNull();
    expect(state.reductions).toBe(0);
  });
});

describe('startHeapTrimmer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps looking after trims, and ends its timer once the collection is refused', () => {
    vi.useFakeTimers();
    const { state, ports } = fakeHeap();
    let looks = 0;
    const counted: HeapTrimPorts = { ...ports, committedBytes: () => (looks++, ports.committedBytes()) };
    const trims: number[] = [];
    const loop = startHeapTrimmer({ ports: counted, policy: { minShrinkBytes: 4 * MiB, minIntervalMs: 0 }, pollMs: 1000, onTrim: (r) => trims.push(r.beforeBytes) });
    state.committed = 50 * MiB;
    vi.advanceTimersByTime(1000);
    state.committed = 30 * MiB;
    vi.advanceTimersByTime(1000);
    expect(trims).toEqual([30 * MiB]);
    expect(loop.running()).toBe(true);

    state.committed = 50 * MiB;
    vi.advanceTimersByTime(1000);
    state.allowed = false;
    state.committed = 30 * MiB;
    vi.advanceTimersByTime(1000);
    expect(loop.running()).toBe(false);
    const after = looks;
    vi.advanceTimersByTime(10_000);
    expect(looks).toBe(after);
    expect(vi.getTimerCount()).toBe(0);
    expect(trims).toHaveLength(1);
  });

  it('stop() ends the timer', () => {
    vi.useFakeTimers();
    const loop = startHeapTrimmer({ ports: fakeHeap().ports });
    expect(vi.getTimerCount()).toBe(1);
    loop.stop();
    expect(loop.running()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('reduceMemory on this Node', () => {
  it('runs only where V8 pools freed pages (V8 ≥ 12, Node ≥ 22); the trimmer then stops looking', () => {
    const pools = Number.parseInt(process.versions.v8, 10) >= 12;
    expect(canReduceMemory()).toBe(pools);
    expect(reduceMemory()).toBe(pools);
    const ports = v8HeapTrimPorts();
    expect(ports.committedBytes()).toBe(v8.getHeapStatistics().total_heap_size);
    expect(ports.now()).toBeGreaterThan(0);
  });
});
