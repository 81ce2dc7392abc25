import type { Queryable } from '../rows';

// spec 01 §8.1 `set_availability`: only `available`, `verified_at` (and the trigger-set
// `updated`) change, which guard_platform_runtime_version permits for catalog runtimes.
export const SET_RUNTIME_VERSION_AVAILABILITY_SQL = `
UPDATE runtime_version
SET available = $2::boolean,
    verified_at = NOW()
WHERE id = $1::bigint`;

/** Returns false when no row has this id. */
export async function setRuntimeVersionAvailability(db: Queryable, id: number, available: boolean): Promise<boolean> {
  const res = await db.query(SET_RUNTIME_VERSION_AVAILABILITY_SQL, [id, available]);
  return (res.rowCount ?? 0) > 0;
}
