import type { Queryable } from '../rows';
import { mapWorkerRow, WORKER_COLUMNS, type WorkerRow } from '../models/worker';

export const GET_WORKER_SQL = `
SELECT ${WORKER_COLUMNS}
FROM worker
WHERE id = $1::bigint`;

/** `worker` by id, e.g. to read a worker's advertised capabilities (spec 04 §4.2 step 12). */
export async function getWorker(db: Queryable, id: number): Promise<WorkerRow | null> {
  const res = await db.query(GET_WORKER_SQL, [id]);
  return res.rows[0] ? mapWorkerRow(res.rows[0]) : null;
}
