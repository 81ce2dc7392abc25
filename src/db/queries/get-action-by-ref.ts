import type { Queryable } from '../rows';
import { ACTION_COLUMNS, mapActionRow, type ActionRow } from '../models/action';

// spec 04 §4.2 step 5: fallback lookup by ref, active rows only.
export const GET_ACTION_BY_REF_SQL = `
SELECT ${ACTION_COLUMNS}
FROM action
WHERE ref = $1::text
  AND retired_at IS NULL`;

export async function getActionByRef(db: Queryable, ref: string): Promise<ActionRow | null> {
  const res = await db.query(GET_ACTION_BY_REF_SQL, [ref]);
  return res.rows[0] ? mapActionRow(res.rows[0]) : null;
}
