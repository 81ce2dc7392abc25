import type { Queryable } from '../rows';

// spec 01 §4.6 / §7.2 step 1: the row is never deleted, only marked inactive.
export const DEREGISTER_WORKER_SQL = `
UPDATE worker
SET status = 'inactive',
    updated = $2::timestamptz
WHERE id = $1::bigint`;

/** Returns false when no row has this id. */
export async function deregisterWorker(db: Queryable, id: number, now: Date = new Date()): Promise<boolean> {
  const res = await db.query(DEREGISTER_WORKER_SQL, [id, now]);
  return (res.rowCount ?? 0) > 0;
}
