/**
 * A full garbage collection on request (issue 18). An execution with a multi-MiB result leaves
 * several copies of it behind (the captured bytes, the result string, the JSON parameter and
 * pg's Bind buffer, the completion's JSON and its AMQP frames); V8 collects them only when its
 * own limits say so, and three 10 MiB results in a row took the agent from ~100 to ~250 MiB RSS
 * with a live heap of ~25 MiB. Collecting right after such an execution keeps the peak near
 * one execution's worth. `--expose-gc` is set at run time, so this works in the single
 * executable and without any Node option.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | null | undefined;

/** Run a full collection; false when this V8 does not allow it (then nothing happens). */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      collect = typeof fn === 'function' ? (fn as () => void) : null;
    } catch {
      collect = null;
    }
  }
  if (!collect) return false;
  collect();
  return true;
}
