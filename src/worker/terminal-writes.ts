/**
 * Group commit for the terminal UPDATE (issue 18, util/group-commit.ts): a write starts at once
 * when none is in flight (no added latency at concurrency 1); executions that finish while one
 * is in flight wait for it and then go together in one statement
 * (db/queries/complete-executions.ts). A failed batch is retried one by one, so one result
 * PostgreSQL cannot store (or any other error) reaches only its own execution, exactly as with
 * one statement each.
 */
import type { Queryable } from '../db/rows';
import type { ExecutionRow } from '../db/models/execution';
import { completeExecution, type CompleteExecutionInput } from '../db/queries/complete-execution';
import { completeExecutions } from '../db/queries/complete-executions';
import { GroupCommit } from '../util/group-commit';

/** Large enough for any concurrency, small enough to keep one statement's parameters modest. */
const MAX_BATCH = 64;

export class TerminalWrites {
  private readonly group: GroupCommit<CompleteExecutionInput, ExecutionRow | null>;

  constructor(db: Queryable) {
    this.group = new GroupCommit({
      maxBatch: MAX_BATCH,
      // A repeated id (a retry racing its first attempt) waits for the next batch.
      identity: (input) => input.id,
      batch: async (inputs) => {
        const rows = await completeExecutions(db, inputs);
        return inputs.map((i) => rows.get(i.id) ?? null);
      },
      single: (input) => completeExecution(db, input),
    });
  }

  /** Same contract as completeExecution: the written row (result null), or null when it was not open. */
  complete(input: CompleteExecutionInput): Promise<ExecutionRow | null> {
    return this.group.run(input);
  }
}
