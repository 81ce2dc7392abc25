/**
 * After an execution with a large captured output (issue 18), its garbage is collected at once
 * instead of whenever V8's limits say so (util/gc.ts): once the run is over (the read buffers
 * and the capture arena) and once the completion is published (the JSON and wire copies of the
 * result). Small results, the common case, cost nothing.
 */
import { collectGarbage } from '../util/gc';

/** Captured stdout + stderr characters from which a result counts as large. */
export const LARGE_RESULT_CHARS = 1024 * 1024;

export function isLargeResult(result: Readonly<Record<string, unknown>>): boolean {
  const len = (v: unknown) => (typeof v === 'string' ? v.length : 0);
  return len(result.stdout) + len(result.stderr) >= LARGE_RESULT_CHARS;
}

/** Collect now when `result` is large; true when a collection ran. */
export function releaseLargeResultGarbage(result: Readonly<Record<string, unknown>>): boolean {
  return isLargeResult(result) && collectGarbage();
}
