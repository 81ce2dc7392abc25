import { jsonParam, withJsonSources, type JsonValue, type Queryable } from '../rows';
import { EXECUTION_COLUMNS, mapExecutionRow, type ExecutionRow } from '../models/execution';

// Not an upstream write (upstream's worker never sets `abandoned`, spec 04 §4.2): the agent's
// start-up recovery of executions its previous process left `running`. Guarded to `running`
// so a row the executor finished meanwhile is left alone.
export const ABANDON_EXECUTION_SQL = `
UPDATE execution
SET status = 'abandoned',
    result = $2::jsonb,
    updated = NOW()
WHERE id = $1::bigint
  AND status = 'running'
RETURNING ${EXECUTION_COLUMNS}`;

/** Returns null when the row is missing or no longer `running`. */
export async function abandonExecution(db: Queryable, id: number, result: JsonValue): Promise<ExecutionRow | null> {
  const res = await db.query(ABANDON_EXECUTION_SQL, withJsonSources([id, jsonParam(result)], { 1: result }));
  return res.rows[0] ? mapExecutionRow(res.rows[0]) : null;
}
