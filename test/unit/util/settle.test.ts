import { describe, expect, it } from 'vitest';
import { allInOrder } from '../../../src/util/settle';

const after = <T>(ms: number, value: T, fail = false): Promise<T> =>
  new Promise((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms));

describe('allInOrder', () => {
  it('resolves with the values in array order, whatever order they settle in', async () => {
    await expect(allInOrder([after(30, 'a'), after(0, 'b'), after(10, 'c')])).resolves.toEqual(['a', 'b', 'c']);
  });

  it('rejects with the first failure in array order, not the first in time', async () => {
    await expect(allInOrder([after(0, 'ok'), after(40, 'first in order', true), after(5, 'first in time', true)])).rejects.toThrow('first in order');
  });

  it('settles only once every promise has settled, so nothing keeps running unobserved', async () => {
    let slowDone = false;
    const slow = after(50, 'slow').then((v) => {
      slowDone = true;
      return v;
    });
    await expect(allInOrder([after(0, 'boom', true), slow])).rejects.toThrow('boom');
    expect(slowDone).toBe(true);
  });
});
