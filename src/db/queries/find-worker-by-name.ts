import type { Queryable } from '../rows';
import { mapWorkerRow, WORKER_COLUMNS, type WorkerRow } from '../models/worker';

// spec 01 §4.5 step 1: the latest row with this name (name is UNIQUE, the ORDER BY mirrors upstream).
export const FIND_WORKER_BY_NAME_SQL = `
SELECT ${WORKER_COLUMNS}
FROM worker
WHERE name = $1::text
ORDER BY created DESC
LIMIT 1`;

export async function findWorkerByName(db: Queryable, name: string): Promise<WorkerRow | null> {
  const res = await db.query(FIND_WORKER_BY_NAME_SQL, [name]);
  return res.rows[0] ? mapWorkerRow(res.rows[0]) : null;
}
