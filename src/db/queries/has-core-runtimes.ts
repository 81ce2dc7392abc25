import type { Queryable } from '../rows';

// spec 07 §7.2: whether any `core.*` runtime exists — platform rows from the API's reconcile,
// or pack-owned ones of a legacy (revision 0) database. Retired rows count too.
export const HAS_CORE_RUNTIMES_SQL = `SELECT EXISTS (SELECT 1 FROM runtime WHERE ref LIKE 'core.%') AS present`;

export async function hasCoreRuntimes(db: Queryable): Promise<boolean> {
  const res = await db.query(HAS_CORE_RUNTIMES_SQL);
  return res.rows[0]?.present === true;
}
