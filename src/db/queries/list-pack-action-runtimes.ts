import type { Queryable } from '../rows';
import { mapRuntimeRow, RUNTIME_COLUMNS, type RuntimeRow } from '../models/runtime';

// spec 07 §3.2 step 3 / §5.3: the runtimes a pack's actions run on (the action's `runtime`;
// `required_worker_runtimes` names are not resolved here). Retired runtimes are skipped.
export const LIST_PACK_ACTION_RUNTIMES_SQL = `
SELECT ${RUNTIME_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}
FROM runtime r
WHERE r.retired_at IS NULL
  AND r.id IN (SELECT a.runtime FROM action a WHERE a.pack = $1::bigint AND a.runtime IS NOT NULL)
ORDER BY r.ref`;

export async function listPackActionRuntimes(db: Queryable, packId: number): Promise<RuntimeRow[]> {
  const res = await db.query(LIST_PACK_ACTION_RUNTIMES_SQL, [packId]);
  return res.rows.map(mapRuntimeRow);
}
