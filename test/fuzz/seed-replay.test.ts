/**
 * A failure found once is never lost (issue 14): the seed a fuzz run prints, given back through
 * ATTUNE_FUZZ_SEED, replays the same cases; a bad seed is one clear error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzSeed } from './fuzz-helpers';

/** The values one fast-check run with `seed` generates (the first 50). */
function casesOf(seed: number): unknown[] {
  const seen: unknown[] = [];
  fc.assert(
    fc.property(fc.anything(), (v) => {
      seen.push(v);
    }),
    { numRuns: 50, seed },
  );
  return seen;
}

describe('fuzz seeds', () => {
  it('takes the printed seed from ATTUNE_FUZZ_SEED, also the negative form of a 32-bit seed', () => {
    expect(fuzzSeed('430611674')).toBe(430611674);
    expect(fuzzSeed(' -12 ')).toBe(-12);
    expect(fuzzSeed(String(0xffffffff))).toBe(-1);
  });

  it('refuses a seed that is not a 32-bit integer, naming the variable', () => {
    for (const bad of ['1.5', 'abc', String(2 ** 33)]) expect(() => fuzzSeed(bad)).toThrow(/ATTUNE_FUZZ_SEED must be a 32-bit integer/);
  });

  it('replays exactly the same cases for the same seed, and others for another seed', () => {
    const seed = fuzzSeed('430611674');
    expect(casesOf(seed)).toEqual(casesOf(seed));
    expect(casesOf(seed)).not.toEqual(casesOf(seed + 1));
  });
});
