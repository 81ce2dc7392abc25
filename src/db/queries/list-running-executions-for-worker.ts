import type { Queryable } from '../rows';
import { EXECUTION_COLUMNS, mapExecutionRow, type ExecutionRow } from '../models/execution';

// Not an upstream query: at start-up the agent looks for executions a previous process of
// the same worker left `running` (crash, SIGKILL) so it can abandon them.
export const LIST_RUNNING_EXECUTIONS_FOR_WORKER_SQL = `
SELECT ${EXECUTION_COLUMNS}
FROM execution
WHERE status = 'running'
  AND worker = $1::bigint
ORDER BY id`;

export async function listRunningExecutionsForWorker(db: Queryable, workerId: number): Promise<ExecutionRow[]> {
  const res = await db.query(LIST_RUNNING_EXECUTIONS_FOR_WORKER_SQL, [workerId]);
  return res.rows.map(mapExecutionRow);
}
