/**
 * Shared bits of the property-based tier (test/fuzz/**): how many cases per property, a per-case
 * time bound ("no hang") and a counter printed at the end of each file.
 *
 * ATTUNE_FUZZ_RUNS scales every property (default 1000 cases each; the full run uses 20000);
 * ATTUNE_FUZZ_SEED replays a failing run (fast-check prints the seed and path on failure).
 */
import { afterAll } from 'vitest';

export const RUNS = Number(process.env.ATTUNE_FUZZ_RUNS ?? 1000);
export const SEED = process.env.ATTUNE_FUZZ_SEED !== undefined ? Number(process.env.ATTUNE_FUZZ_SEED) : undefined;
/** Generous bound for one call on a 2-core machine under load; a hang or a blow-up exceeds it by far. */
export const CASE_LIMIT_MS = 2000;

export function fcParams(runs = RUNS): { numRuns: number; seed?: number } {
  return SEED === undefined ? { numRuns: runs } : { numRuns: runs, seed: SEED };
}

export class CaseCounter {
  readonly counts = new Map<string, { cases: number; slowestMs: number }>();

  /** Run one case of `name`, counting it and failing when it exceeds CASE_LIMIT_MS. */
  time<T>(name: string, fn: () => T, limitMs = CASE_LIMIT_MS): T {
    const t0 = performance.now();
    const v = fn();
    const ms = performance.now() - t0;
    const c = this.counts.get(name) ?? { cases: 0, slowestMs: 0 };
    c.cases++;
    c.slowestMs = Math.max(c.slowestMs, ms);
    this.counts.set(name, c);
    if (ms > limitMs) throw new Error(`${name}: one case took ${ms.toFixed(0)} ms (limit ${limitMs} ms)`);
    return v;
  }

  total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c.cases;
    return n;
  }

  /** Print `[fuzz] <file>: N cases` plus one line per target when the file ends. */
  printAfterAll(file: string): void {
    afterAll(() => {
      const lines = [...this.counts].map(([name, c]) => `  ${name}: ${c.cases} cases, slowest ${c.slowestMs.toFixed(1)} ms`);
      console.log(`[fuzz] ${file}: ${this.total()} cases tried\n${lines.join('\n')}`);
    });
  }
}
