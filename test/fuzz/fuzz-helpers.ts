/**
 * Shared bits of the property-based tier (test/fuzz/**): how many cases per property, a per-case
 * time bound ("no hang") and a counter printed at the end of each file.
 *
 * ATTUNE_FUZZ_RUNS scales every property (default 1000 cases each; the full run uses 20000).
 * Every run uses one fast-check seed, printed at the start and end of each file; set
 * ATTUNE_FUZZ_SEED to replay it (and ATTUNE_FUZZ_PATH to the "path" fast-check prints with a
 * failure to jump straight to the shrunk counterexample), so a failure found once is never lost.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';

export const RUNS = Number(process.env.ATTUNE_FUZZ_RUNS ?? 1000);

/** The seed of this run: ATTUNE_FUZZ_SEED when set (must be a 32-bit integer), else random. */
export function fuzzSeed(raw = process.env.ATTUNE_FUZZ_SEED): number {
  if (raw === undefined || raw.trim() === '') return (Math.random() * 0x100000000) | 0;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) {
    throw new Error(`ATTUNE_FUZZ_SEED must be a 32-bit integer (as printed by a fuzz run), got ${JSON.stringify(raw)}`);
  }
  return n | 0;
}

export const SEED = fuzzSeed();
const PATH = process.env.ATTUNE_FUZZ_PATH?.trim() || undefined;
/** Generous bound for one call on a 2-core machine under load; a hang or a blow-up exceeds it by far. */
export const CASE_LIMIT_MS = 2000;

export function fcParams(runs = RUNS): { numRuns: number; seed: number; path?: string } {
  return PATH === undefined ? { numRuns: runs, seed: SEED } : { numRuns: runs, seed: SEED, path: PATH };
}

/** The replay line printed for every fuzz file. */
export function replayHint(): string {
  return `seed ${SEED} (replay: ATTUNE_FUZZ_SEED=${SEED}${PATH ? ` ATTUNE_FUZZ_PATH=${PATH}` : ''} ATTUNE_FUZZ_RUNS=${RUNS})`;
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

  /**
   * Print `[fuzz] <file>: N cases` plus one line per target when the file ends, and yield one
   * macrotask after every test (see yieldAfterEachTest).
   */
  printAfterAll(file: string): void {
    yieldAfterEachTest();
    beforeAll(() => {
      console.log(`[fuzz] ${file}: ${replayHint()}`);
    });
    afterAll(() => {
      const lines = [...this.counts].map(([name, c]) => `  ${name}: ${c.cases} cases, slowest ${c.slowestMs.toFixed(1)} ms`);
      console.log(`[fuzz] ${file}: ${this.total()} cases tried, ${replayHint()}\n${lines.join('\n')}`);
    });
  }
}

/**
 * A property runs its cases synchronously, and vitest goes from one test to the next through
 * promises only, so a file's tests can hold the worker's event loop for minutes at full size.
 * vitest's worker RPC (onTaskUpdate, sent as tests finish) times out after 60 s, and its reply is
 * only read when the loop polls: a file whose properties together block longer than that failed
 * the whole run with `[vitest-worker]: Timeout calling "onTaskUpdate"` although every test
 * passed. One setImmediate after each test lets the loop poll, so the bound becomes the longest
 * single test rather than the sum of a file's.
 */
export function yieldAfterEachTest(): void {
  afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
}
