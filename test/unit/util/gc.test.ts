import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../../src/util/gc';
import { isLargeResult, LARGE_RESULT_CHARS, releaseLargeResultGarbage } from '../../../src/worker/result-memory';

describe('collectGarbage', () => {
  it('runs a real full collection without any Node option (a dropped object is gone)', async () => {
    let big: { data: string } | null = { data: 'x'.repeat(4 * 1024 * 1024) + String(Math.random()) };
    const ref = new WeakRef(big);
    big = null;
    // A WeakRef target stays alive until the current job ends.
    await new Promise((r) => setImmediate(r));
    expect(collectGarbage()).toBe(true);
    expect(ref.deref()).toBeUndefined();
  });
});

describe('large results', () => {
  it('counts captured stdout and stderr characters against the bound', () => {
    expect(isLargeResult({ stdout: 'a'.repeat(LARGE_RESULT_CHARS - 1), stderr: '' })).toBe(false);
    expect(isLargeResult({ stdout: 'a'.repeat(LARGE_RESULT_CHARS - 10), stderr: 'b'.repeat(10) })).toBe(true);
    expect(isLargeResult({ stdout: null, data: { x: 1 } })).toBe(false);
    expect(releaseLargeResultGarbage({ stdout: 'small' })).toBe(false);
    expect(releaseLargeResultGarbage({ stdout: 'a'.repeat(LARGE_RESULT_CHARS) })).toBe(true);
  });
});
