/**
 * Give V8's freed pages back to the operating system while the agent is busy (issue 18, soak).
 *
 * When a full collection frees pages, V8 (Node ≥ 22) keeps them in a page pool for reuse; the
 * pooled pages stay resident. Only a memory-reducing collection releases the pool, and V8 runs
 * one by itself (its "memory reducer") only once the allocation rate falls, i.e. when the agent
 * is idle. Under a steady stream of executions an occasional long marking cycle let the heap
 * grow ~20 MiB above its usual size; the collection after it put those pages in the pool
 * (`--trace-gc`: `pooled: 19 MB`), and the agent's resident memory stayed that much higher for
 * the rest of the run (a 20 000-execution soak: +22 to +35 % RSS, all of it anonymous). Every
 * fork of an action also copies the page tables of what the agent has resident.
 *
 * The pool is invisible to `v8.getHeapStatistics()`, but the collection that fills it shrinks
 * the committed heap: a drop of `minShrinkBytes` below the highest committed size seen since the
 * last trim means pages went to the pool (or back to the OS), and then one memory-reducing
 * collection runs, at most once per `minIntervalMs`. Pure apart from its ports.
 */

export interface HeapTrimPorts {
  /** V8's committed heap (`v8.getHeapStatistics().total_heap_size`). */
  committedBytes(): number;
  /** Run a memory-reducing collection; false when this V8 does not allow it. */
  reduce(): boolean;
  /** Monotonic milliseconds. */
  now(): number;
}

export interface HeapTrimPolicy {
  /** Shrink of the committed heap below its recent high that triggers a trim. */
  minShrinkBytes: number;
  /** Least time between two trims. */
  minIntervalMs: number;
}

export const DEFAULT_HEAP_TRIM_POLICY: HeapTrimPolicy = { minShrinkBytes: 4 * 1024 * 1024, minIntervalMs: 30_000 };

export interface HeapTrimResult {
  /** Committed heap just before and just after the memory-reducing collection. */
  beforeBytes: number;
  afterBytes: number;
  /** The highest committed heap seen since the previous trim. */
  highBytes: number;
  ms: number;
}

export class HeapTrimmer {
  private high = 0;
  private lastTrim = Number.NEGATIVE_INFINITY;
  private disabled = false;

  /** True once this V8 refused the collection: no later check can trim, so looking can stop. */
  get gaveUp(): boolean {
    return this.disabled;
  }

  constructor(
    private readonly ports: HeapTrimPorts,
    private readonly policy: HeapTrimPolicy = DEFAULT_HEAP_TRIM_POLICY,
  ) {}

  /** One look at the heap; the trim's figures when a collection ran, else null. */
  check(): HeapTrimResult | null {
    if (this.disabled) return null;
    const committed = this.ports.committedBytes();
    if (committed > this.high) this.high = committed;
    const started = this.ports.now();
    if (this.high - committed < this.policy.minShrinkBytes) return null;
    if (started - this.lastTrim < this.policy.minIntervalMs) return null;
    if (!this.ports.reduce()) {
      this.disabled = true;
      return null;
    }
    const after = this.ports.committedBytes();
    const result: HeapTrimResult = { beforeBytes: committed, afterBytes: after, highBytes: this.high, ms: this.ports.now() - started };
    this.lastTrim = started;
    this.high = after;
    return result;
  }
}

export interface HeapTrimLoopOptions {
  ports: HeapTrimPorts;
  policy?: HeapTrimPolicy;
  /** How often the committed heap is looked at; default 2000 ms. */
  pollMs?: number;
  onTrim?: (result: HeapTrimResult) => void;
}

/**
 * Look at the heap every `pollMs` (the timer keeps no process alive); `stop()` ends it, and so
 * does the first refused collection (`running()` then reads false).
 */
export function startHeapTrimmer(opts: HeapTrimLoopOptions): { stop(): void; running(): boolean } {
  const trimmer = new HeapTrimmer(opts.ports, opts.policy);
  let running = true;
  const stop = (): void => {
    running = false;
    clearInterval(timer);
  };
  const timer = setInterval(() => {
    const result = trimmer.check();
    if (result) opts.onTrim?.(result);
    else if (trimmer.gaveUp) stop();
  }, opts.pollMs ?? 2000);
  timer.unref();
  return { stop, running: () => running };
}
