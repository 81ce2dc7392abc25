import type { Queryable } from '../rows';
import { mapPackEnvironmentRow, PACK_ENVIRONMENT_COLUMNS, type PackEnvironmentRow } from '../models/pack-environment';

// spec 07 §5.3 step 3: re-read by env_key between claim attempts.
export const GET_PACK_ENVIRONMENT_SQL = `
SELECT ${PACK_ENVIRONMENT_COLUMNS}
FROM pack_environment
WHERE env_key = $1::text`;

export async function getPackEnvironment(db: Queryable, envKey: string): Promise<PackEnvironmentRow | null> {
  const res = await db.query(GET_PACK_ENVIRONMENT_SQL, [envKey]);
  return res.rows[0] ? mapPackEnvironmentRow(res.rows[0]) : null;
}
