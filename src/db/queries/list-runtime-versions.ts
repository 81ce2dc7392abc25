import type { Queryable } from '../rows';
import { mapRuntimeVersionRow, RUNTIME_VERSION_COLUMNS, type RuntimeVersionRow } from '../models/runtime-version';

// spec 04 §4.1 (version verification): active versions ordered by runtime_ref, version.
export const LIST_RUNTIME_VERSIONS_SQL = `
SELECT ${RUNTIME_VERSION_COLUMNS}
FROM runtime_version
WHERE retired_at IS NULL
ORDER BY runtime_ref, version`;

export async function listRuntimeVersions(db: Queryable): Promise<RuntimeVersionRow[]> {
  const res = await db.query(LIST_RUNTIME_VERSIONS_SQL);
  return res.rows.map(mapRuntimeVersionRow);
}
