/**
 * Group commit for the terminal UPDATE (issue 18): a write starts at once when none is in
 * flight (no added latency at concurrency 1); executions that finish while one is in flight
 * wait for it and then go together in one statement (db/queries/complete-executions.ts). A
 * failed batch is retried one by one, so one result PostgreSQL cannot store (or any other
 * error) reaches only its own execution, exactly as with one statement each.
 */
import type { Queryable } from '../db/rows';
import type { ExecutionRow } from '../db/models/execution';
import { completeExecution, type CompleteExecutionInput } from '../db/queries/complete-execution';
import { completeExecutions } from '../db/queries/complete-executions';

interface Pending {
  input: CompleteExecutionInput;
  resolve: (row: ExecutionRow | null) => void;
  reject: (e: unknown) => void;
}

/** Large enough for any concurrency, small enough to keep one statement's parameters modest. */
const MAX_BATCH = 64;

export class TerminalWrites {
  private queue: Pending[] = [];
  private busy = false;

  constructor(private readonly db: Queryable) {}

  /** Same contract as completeExecution: the written row (result null), or null when it was not open. */
  complete(input: CompleteExecutionInput): Promise<ExecutionRow | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) await this.write(this.takeBatch());
    } finally {
      this.busy = false;
    }
  }

  /** Up to MAX_BATCH pending writes with distinct ids (a repeated id waits for the next batch). */
  private takeBatch(): Pending[] {
    const ids = new Set<number>();
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.queue) {
      if (batch.length < MAX_BATCH && !ids.has(p.input.id)) {
        ids.add(p.input.id);
        batch.push(p);
      } else rest.push(p);
    }
    this.queue = rest;
    return batch;
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const rows = await completeExecutions(this.db, batch.map((p) => p.input));
        for (const p of batch) p.resolve(rows.get(p.input.id) ?? null);
        return;
      } catch {
        // Fall through: one statement each, each caller gets its own outcome.
      }
    }
    for (const p of batch) {
      try {
        p.resolve(await completeExecution(this.db, p.input));
      } catch (e) {
        p.reject(e);
      }
    }
  }
}
