import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../src/util/group-commit';

/** A batch/single pair that records its calls and answers on demand. */
function recorder(fail: (items: number[]) => boolean = () => false) {
  const calls: number[][] = [];
  const gates: Array<() => void> = [];
  const answer = async (items: number[]) => {
    calls.push(items);
    await new Promise<void>((r) => gates.push(r));
    if (fail(items)) throw new Error(`refused ${items.join(',')}`);
    return items.map((i) => i * 10);
  };
  return { calls, open: () => gates.splice(0).forEach((g) => g()), answer };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('runs the first request alone at once and the ones that arrived meanwhile together, in order', async () => {
    const r = recorder();
    const g = new GroupCommit<number, number>({ maxBatch: 10, batch: r.answer, single: async (i) => (await r.answer([i]))[0] as number });
    const first = g.run(1);
    await tick();
    expect(r.calls).toEqual([[1]]);
    const rest = [2, 3, 4].map((i) => g.run(i));
    await tick();
    r.open();
    expect(await first).toBe(10);
    await tick();
    expect(r.calls).toEqual([[1], [2, 3, 4]]);
    r.open();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('keeps lanes apart and never puts one identity twice in a batch', async () => {
    const r = recorder();
    const g = new GroupCommit<number, number>({
      maxBatch: 10,
      lane: (i) => (i % 2 === 0 ? 'even' : 'odd'),
      identity: (i) => i,
      batch: r.answer,
      single: async (i) => (await r.answer([i]))[0] as number,
    });
    const all = [1, 2].map((i) => g.run(i));
    await tick();
    expect(r.calls).toEqual([[1], [2]]); // two lanes, both at once
    all.push(...[3, 3, 5].map((i) => g.run(i)));
    r.open();
    await tick();
    await tick();
    expect(r.calls.slice(2)).toEqual([[3, 5]]);
    r.open();
    await tick();
    await tick();
    expect(r.calls.slice(3)).toEqual([[3]]);
    r.open();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 30, 50]);
  });

  it('retries a failed batch one by one, so only the request at fault fails', async () => {
    const r = recorder((items) => items.length > 1 || items[0] === 3);
    const g = new GroupCommit<number, number>({ maxBatch: 10, batch: r.answer, single: async (i) => (await r.answer([i]))[0] as number });
    const first = g.run(1);
    await tick();
    const rest = Promise.allSettled([2, 3, 4].map((i) => g.run(i)));
    for (let i = 0; i < 12; i++) {
      r.open();
      await tick();
    }
    expect(await first).toBe(10);
    const settled = await rest;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(r.calls).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it('splits a long queue into batches of maxBatch', async () => {
    const r = recorder();
    const g = new GroupCommit<number, number>({ maxBatch: 2, batch: r.answer, single: async (i) => (await r.answer([i]))[0] as number });
    const all = [1, 2, 3, 4, 5].map((i) => g.run(i));
    for (let i = 0; i < 8; i++) {
      r.open();
      await tick();
    }
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
    expect(r.calls).toEqual([[1], [2, 3], [4, 5]]);
  });
});
