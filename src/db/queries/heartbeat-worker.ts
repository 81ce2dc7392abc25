import type { Queryable } from '../rows';

// spec 01 §4.6 / §6: each tick also re-asserts status 'active'. Only last_heartbeat/updated
// change in steady state, so worker_history records nothing (spec 04 §5).
export const HEARTBEAT_WORKER_SQL = `
UPDATE worker
SET last_heartbeat = $2::timestamptz,
    status = 'active',
    updated = $2::timestamptz
WHERE id = $1::bigint`;

/** Returns false when no row has this id. */
export async function heartbeatWorker(db: Queryable, id: number, now: Date = new Date()): Promise<boolean> {
  const res = await db.query(HEARTBEAT_WORKER_SQL, [id, now]);
  return (res.rowCount ?? 0) > 0;
}
