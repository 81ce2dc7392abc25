import type { Queryable } from '../rows';
import { ENFORCEMENT_COLUMNS, mapEnforcementRow, type EnforcementRow } from '../models/enforcement';

// spec 04 §4.2 step 9: whole-row read for ATTUNE_RULE / ATTUNE_TRIGGER. Upstream ignores
// errors of this read; that policy belongs to the caller.
export const GET_ENFORCEMENT_SQL = `
SELECT ${ENFORCEMENT_COLUMNS}
FROM enforcement
WHERE id = $1::bigint`;

export async function getEnforcement(db: Queryable, id: number): Promise<EnforcementRow | null> {
  const res = await db.query(GET_ENFORCEMENT_SQL, [id]);
  return res.rows[0] ? mapEnforcementRow(res.rows[0]) : null;
}
