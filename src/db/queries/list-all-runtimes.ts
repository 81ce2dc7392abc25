import type { Queryable } from '../rows';
import { mapRuntimeRow, RUNTIME_COLUMNS, type RuntimeRow } from '../models/runtime';

// spec 01 §4.4 tier 3: capability detection reads every runtime, retired ones included
// (upstream's detector query has no retired filter).
export const LIST_ALL_RUNTIMES_SQL = `
SELECT ${RUNTIME_COLUMNS}
FROM runtime
ORDER BY ref`;

export async function listAllRuntimes(db: Queryable): Promise<RuntimeRow[]> {
  const res = await db.query(LIST_ALL_RUNTIMES_SQL);
  return res.rows.map(mapRuntimeRow);
}
