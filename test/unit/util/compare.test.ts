import { describe, expect, it } from 'vitest';
import { compareOrdinal } from '../../../src/util/compare';

describe('compareOrdinal', () => {
  it('orders by UTF-16 code unit, not by locale', () => {
    // A collator puts 'a' before 'B' and ignores case first; code units put every capital first.
    expect(['b', 'B', 'a', 'A', '_', 'Z'].sort(compareOrdinal)).toEqual(['A', 'B', 'Z', '_', 'a', 'b']);
    expect(compareOrdinal('2026-12-01T10:00:00.000Z', '2026-12-01T09:59:59.999Z')).toBe(1);
    expect(compareOrdinal('same', 'same')).toBe(0);
    expect(compareOrdinal('ab', 'abc')).toBe(-1);
  });
});
