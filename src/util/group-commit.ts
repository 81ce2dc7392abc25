/**
 * Group commit (issue 18): a request starts at once when none of its lane is in flight (no added
 * latency when alone); requests that arrive meanwhile wait for it and then go together in one
 * batch call. A failed batch is retried one by one with `single`, so an error reaches only the
 * request it belongs to, exactly as with one call each. Used for the terminal UPDATE, the log
 * stream rows and the file-artifact listing of concurrent executions.
 */

export interface GroupCommitOptions<I, O> {
  /** One call for several requests; results in the order of `items`. */
  batch: (items: I[]) => Promise<O[]>;
  /** One request alone (also the fallback after a failed batch). */
  single: (item: I) => Promise<O>;
  /** Requests per batch at most. */
  maxBatch: number;
  /** Requests of different lanes never share a batch and do not wait for each other (default: one lane). */
  lane?: (item: I) => string;
  /** Requests with the same identity never share a batch (a repeat waits for the next one). */
  identity?: (item: I) => unknown;
}

interface Waiting<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<I, O> {
  /** Lanes with work (queued or in flight); a lane is deleted when it drains. */
  private readonly lanes = new Map<string, Waiting<I, O>[]>();

  constructor(private readonly opts: GroupCommitOptions<I, O>) {}

  run(item: I): Promise<O> {
    const key = this.opts.lane ? this.opts.lane(item) : '';
    return new Promise<O>((resolve, reject) => {
      const waiting = { item, resolve, reject };
      const queue = this.lanes.get(key);
      if (queue) {
        queue.push(waiting);
        return;
      }
      const fresh = [waiting];
      this.lanes.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  private async drain(key: string, queue: Waiting<I, O>[]): Promise<void> {
    try {
      while (queue.length > 0) await this.write(this.take(queue));
    } finally {
      this.lanes.delete(key);
    }
  }

  /** Up to maxBatch requests with distinct identities, in arrival order. */
  private take(queue: Waiting<I, O>[]): Waiting<I, O>[] {
    const identity = this.opts.identity;
    if (!identity) return queue.splice(0, this.opts.maxBatch);
    const seen = new Set<unknown>();
    const batch: Waiting<I, O>[] = [];
    const rest: Waiting<I, O>[] = [];
    for (const w of queue) {
      const id = identity(w.item);
      if (batch.length < this.opts.maxBatch && !seen.has(id)) {
        seen.add(id);
        batch.push(w);
      } else rest.push(w);
    }
    queue.splice(0, queue.length, ...rest);
    return batch;
  }

  private async write(batch: Waiting<I, O>[]): Promise<void> {
    if (batch.length > 1) {
      let outs: O[] | null = null;
      try {
        outs = await this.opts.batch(batch.map((w) => w.item));
      } catch {
        // Fall through: one call each, each caller gets its own outcome.
      }
      if (outs) {
        batch.forEach((w, i) => w.resolve(outs[i] as O));
        return;
      }
    }
    for (const w of batch) {
      try {
        w.resolve(await this.opts.single(w.item));
      } catch (e) {
        w.reject(e);
      }
    }
  }
}
