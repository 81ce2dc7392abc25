import { prepared } from '../prepared';
import { withJsonSources, type JsonValue, type Queryable } from '../rows';
import { sharedJsonText } from '../../util/json-text';
import { EXECUTION_COLUMNS_WITHOUT_RESULT, mapExecutionRow, type ExecutionRow } from '../models/execution';

/** The statuses the worker writes at the end of an execution (spec 04 §4.2 step 16). */
export type TerminalWorkerStatus = 'completed' | 'failed' | 'cancelled' | 'timeout';

/**
 * Deliberate difference from upstream (spec 04 §4.2 step 16, §8.5): upstream's terminal
 * UPDATE is unconditional. This one only updates rows that are still open
 * (`requested`/`scheduling`/`scheduled`/`running`/`canceling`), so a terminal row is never
 * overwritten twice — e.g. a late result after the executor timed the execution out, or a
 * duplicate delivery finishing a second time. `canceling` is open on purpose: finishing a
 * cancel request is exactly what moves it to `cancelled`.
 */
export const COMPLETE_EXECUTION_SQL = prepared(
  'complete-execution',
  `
UPDATE execution
SET status = $2::execution_status_enum,
    result = $3::jsonb,
    updated = NOW()
WHERE id = $1::bigint
  AND status IN ('requested', 'scheduling', 'scheduled', 'running', 'canceling')
RETURNING ${EXECUTION_COLUMNS_WITHOUT_RESULT}`,
);

export interface CompleteExecutionInput {
  id: number;
  status: TerminalWorkerStatus;
  /** The `execution.result` JSON (already redacted, spec 04 §6.3). */
  result: JsonValue;
}

/**
 * The result as the `$3::jsonb` text (SQL NULL for none); a large text is kept for the
 * ExecutionCompleted body of the same result (util/json-text.ts).
 */
export function resultParam(result: JsonValue | undefined): string | null {
  return result === null || result === undefined ? null : sharedJsonText(result);
}

/** Returns null when the row does not exist or was already terminal (nothing written). The returned row's `result` is null (see EXECUTION_COLUMNS_WITHOUT_RESULT). */
export async function completeExecution(db: Queryable, input: CompleteExecutionInput): Promise<ExecutionRow | null> {
  const res = await db.query(COMPLETE_EXECUTION_SQL, withJsonSources([input.id, input.status, resultParam(input.result)], { 2: input.result }));
  return res.rows[0] ? mapExecutionRow(res.rows[0]) : null;
}
