import { prepared } from '../prepared';
import type { Queryable } from '../rows';
import { EXECUTION_COLUMNS, mapExecutionRow, type ExecutionRow } from '../models/execution';

// spec 04 §4.2 step 1 (guard read) and the later re-reads; column list of §3.6.
export const GET_EXECUTION_SQL = prepared(
  'get-execution',
  `
SELECT ${EXECUTION_COLUMNS}
FROM execution
WHERE id = $1::bigint`,
);

export async function getExecution(db: Queryable, id: number): Promise<ExecutionRow | null> {
  const res = await db.query(GET_EXECUTION_SQL, [id]);
  return res.rows[0] ? mapExecutionRow(res.rows[0]) : null;
}
