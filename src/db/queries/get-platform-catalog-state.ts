import { toIntOrNull, type Queryable } from '../rows';

// spec 04 §1.4 step 2: the single catalog row. Only call when the table exists
// (see relation-exists.ts); pre-catalog databases do not have it.
export const GET_PLATFORM_CATALOG_STATE_SQL = `
SELECT compatibility_epoch, revision
FROM platform_catalog_state
WHERE singleton`;

export interface PlatformCatalogState {
  compatibilityEpoch: number;
  revision: number;
}

/** null when the table has no singleton row. */
export async function getPlatformCatalogState(db: Queryable): Promise<PlatformCatalogState | null> {
  const res = await db.query(GET_PLATFORM_CATALOG_STATE_SQL);
  const row = res.rows[0];
  if (!row) return null;
  return { compatibilityEpoch: toIntOrNull(row.compatibility_epoch) ?? 0, revision: toIntOrNull(row.revision) ?? 0 };
}
