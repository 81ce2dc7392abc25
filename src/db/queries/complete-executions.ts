import { prepared } from '../prepared';
import { withJsonSources, type JsonValue, type Queryable } from '../rows';
import { EXECUTION_COLUMNS_WITHOUT_RESULT, mapExecutionRow, type ExecutionRow } from '../models/execution';
import { resultParam, type CompleteExecutionInput } from './complete-execution';

/**
 * The terminal UPDATE of `complete-execution.ts` for several executions in ONE statement
 * (issue 18: executions finishing while the previous terminal write is in flight). Per row it
 * is the same guarded UPDATE — same SET, same open-status guard, same row values and
 * per-row triggers (`execution_status_changed` NOTIFY, execution_history); only `updated`
 * (NOW(), the transaction start) is shared by the rows of one batch. The results travel as
 * one JSON array (`$3`, element i for the i-th id): one parse instead of an array literal of
 * escaped JSON texts (a JSON `null` element is SQL NULL, as `jsonParam(null)` binds it). Ids
 * must be distinct.
 */
export const COMPLETE_EXECUTIONS_SQL = prepared(
  'complete-executions',
  `
UPDATE execution e
SET status = i.status::execution_status_enum,
    result = NULLIF($3::jsonb -> (i.ord - 1)::int, 'null'::jsonb),
    updated = NOW()
FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS i(id, status, ord)
WHERE e.id = i.id
  AND e.status IN ('requested', 'scheduling', 'scheduled', 'running', 'canceling')
RETURNING ${EXECUTION_COLUMNS_WITHOUT_RESULT.split(', ')
    .map((c) => (c.includes(' AS ') ? c : `e.${c}`))
    .join(', ')}`,
);

/** Rows written, by id; an id missing from the map was not open (nothing written for it). */
export async function completeExecutions(db: Queryable, inputs: readonly CompleteExecutionInput[]): Promise<Map<number, ExecutionRow>> {
  const results = inputs.map((i) => i.result as JsonValue);
  const res = await db.query(COMPLETE_EXECUTIONS_SQL, withJsonSources([inputs.map((i) => i.id), inputs.map((i) => i.status), `[${results.map((r) => resultParam(r) ?? 'null').join(',')}]`], { 2: results }));
  const out = new Map<number, ExecutionRow>();
  for (const r of res.rows) {
    const row = mapExecutionRow(r);
    out.set(row.id, row);
  }
  return out;
}
