/**
 * The fuzz files' tests block the worker's event loop; yieldAfterEachTest must let it run a
 * macrotask between two tests, or vitest's worker RPC times out on a long file (fuzz-helpers.ts).
 */
import { expect, it } from 'vitest';
import { yieldAfterEachTest } from './fuzz-helpers';

yieldAfterEachTest();

let immediateRan = false;

it('schedules a macrotask and returns without waiting for it', () => {
  setImmediate(() => {
    immediateRan = true;
  });
  expect(immediateRan).toBe(false);
});

it('sees that macrotask done before it starts', () => {
  expect(immediateRan).toBe(true);
});
