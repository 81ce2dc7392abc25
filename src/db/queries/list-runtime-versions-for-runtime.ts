import type { Queryable } from '../rows';
import { mapRuntimeVersionRow, RUNTIME_VERSION_COLUMNS, type RuntimeVersionRow } from '../models/runtime-version';

// spec 04 §4.2 step 12: candidate versions when the execution has no snapshot — active
// versions of one runtime, newest first by components.
export const LIST_RUNTIME_VERSIONS_FOR_RUNTIME_SQL = `
SELECT ${RUNTIME_VERSION_COLUMNS}
FROM runtime_version
WHERE runtime = $1::bigint
  AND retired_at IS NULL
ORDER BY version_major DESC NULLS LAST, version_minor DESC NULLS LAST, version_patch DESC NULLS LAST`;

export async function listRuntimeVersionsForRuntime(db: Queryable, runtimeId: number): Promise<RuntimeVersionRow[]> {
  const res = await db.query(LIST_RUNTIME_VERSIONS_FOR_RUNTIME_SQL, [runtimeId]);
  return res.rows.map(mapRuntimeVersionRow);
}
