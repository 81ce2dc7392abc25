import type { Queryable } from '../rows';
import { mapRuntimeRow, RUNTIME_COLUMNS, type RuntimeRow } from '../models/runtime';

// spec 04 §4.1: `RuntimeRepository::list` — active rows only (@126b167), ordered by ref.
// Used by dynamic runtime registration and the runtime registry.
export const LIST_RUNTIMES_SQL = `
SELECT ${RUNTIME_COLUMNS}
FROM runtime
WHERE retired_at IS NULL
ORDER BY ref`;

export async function listRuntimes(db: Queryable): Promise<RuntimeRow[]> {
  const res = await db.query(LIST_RUNTIMES_SQL);
  return res.rows.map(mapRuntimeRow);
}
