import type { Queryable } from '../rows';
import { mapRuntimeRow, RUNTIME_COLUMNS, type RuntimeRow } from '../models/runtime';

// spec 04 §4.2 step 12: by id with no retired_at filter — a running execution may still
// reference a retired runtime.
export const GET_RUNTIME_SQL = `
SELECT ${RUNTIME_COLUMNS}
FROM runtime
WHERE id = $1::bigint`;

export async function getRuntime(db: Queryable, id: number): Promise<RuntimeRow | null> {
  const res = await db.query(GET_RUNTIME_SQL, [id]);
  return res.rows[0] ? mapRuntimeRow(res.rows[0]) : null;
}
