import type { Queryable } from '../rows';
import { EXECUTION_COLUMNS, mapExecutionRow, type ExecutionRow } from '../models/execution';

/**
 * Statuses from which the agent may start an execution.
 *
 * Deliberate difference from upstream (spec 04 §4.2 step 3, §8.5): upstream's UPDATE is
 * unconditional and would overwrite a terminal row (e.g. one the executor already marked
 * `cancelled`/`timeout`) or a `canceling` row back to `running`. This UPDATE only moves rows
 * that have not started: it is the single place that decides which delivery of a dispatch
 * runs the action. Two copies of one dispatch (a redelivery next to its stale original after
 * a reconnect, a producer retry, two processes sharing a worker name) race on this row and
 * exactly one gets it back; a row left `running` by a crashed agent is settled as
 * `abandoned` at the next start instead of being re-run.
 */
export const STARTABLE_EXECUTION_STATUSES = ['requested', 'scheduling', 'scheduled'] as const;

export const MARK_EXECUTION_RUNNING_SQL = `
UPDATE execution
SET status = 'running',
    started_at = $2::timestamptz,
    updated = NOW()
WHERE id = $1::bigint
  AND status IN ('requested', 'scheduling', 'scheduled')
RETURNING ${EXECUTION_COLUMNS}`;

/**
 * Marks the execution `running` (fires `execution_status_changed` and an execution_history
 * row). Returns null when the row does not exist or has already started, finished or is being
 * cancelled — the caller must then not run the action.
 */
export async function markExecutionRunning(
  db: Queryable,
  id: number,
  startedAt: Date = new Date(),
): Promise<ExecutionRow | null> {
  const res = await db.query(MARK_EXECUTION_RUNNING_SQL, [id, startedAt]);
  return res.rows[0] ? mapExecutionRow(res.rows[0]) : null;
}
