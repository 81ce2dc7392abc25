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
import type { HeapTrimPorts } from './heap-trim';

const V8_MAJOR = Number.parseInt(process.versions.v8, 10);

/** V8's `gc` extension (the options object as V8 ≥ 12 reads it). */
type GcFunction = (options?: { type: 'major'; execution: 'sync'; flavor: 'regular' | 'last-resort' }) => void;

let collect: GcFunction | null | undefined;

function gcFunction(): GcFunction | null {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      collect = typeof fn === 'function' ? (fn as GcFunction) : null;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Run a full collection; false when this V8 does not allow it (then nothing happens). */
export function collectGarbage(): boolean {
  const gc = gcFunction();
  if (!gc) return false;
  gc();
  return true;
}

/**
 * Run a memory-reducing collection (V8's "last resort": compacting full collections until
 * nothing more is freed, then the freed pages are returned to the OS instead of being pooled;
 * heap-trim.ts). A few times the cost of a full collection; false when this V8 does not allow it.
 */
export function reduceMemory(): boolean {
  const gc = memoryReducingGc();
  if (!gc) return false;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}

/** Whether reduceMemory can work here. */
export function canReduceMemory(): boolean {
  return memoryReducingGc() !== null;
}

/**
 * The gc function where it runs memory-reducing collections. V8 before 12 (Node 20) reads no
 * options and runs no full collection when given an object; it keeps no page pool either, so
 * there is nothing to trim there.
 */
function memoryReducingGc(): GcFunction | null {
  return V8_MAJOR >= 12 ? gcFunction() : null;
}

/** heap-trim.ts's ports on this process's V8. */
export function v8HeapTrimPorts(): HeapTrimPorts {
  return { committedBytes: () => v8.getHeapStatistics().total_heap_size, reduce: reduceMemory, now: () => performance.now() };
}
