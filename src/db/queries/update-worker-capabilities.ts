import { jsonParam, type JsonObject, type Queryable } from '../rows';

// spec 01 §4.6: the whole JSON is replaced (e.g. runtime_versions after verification, §4.3).
export const UPDATE_WORKER_CAPABILITIES_SQL = `
UPDATE worker
SET capabilities = $2::jsonb,
    updated = $3::timestamptz
WHERE id = $1::bigint`;

/** Returns false when no row has this id. */
export async function updateWorkerCapabilities(
  db: Queryable,
  id: number,
  capabilities: JsonObject,
  now: Date = new Date(),
): Promise<boolean> {
  const res = await db.query(UPDATE_WORKER_CAPABILITIES_SQL, [id, jsonParam(capabilities), now]);
  return (res.rowCount ?? 0) > 0;
}
