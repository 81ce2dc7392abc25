import type { Queryable } from '../rows';
import { ACTION_COLUMNS, mapActionRow, type ActionRow } from '../models/action';

// spec 04 §4.2 step 5 (f3e5d1c): the "including retired" lookup by id — an execution
// created before its action was retired must still run.
export const GET_ACTION_SQL = `
SELECT ${ACTION_COLUMNS}
FROM action
WHERE id = $1::bigint`;

export async function getAction(db: Queryable, id: number): Promise<ActionRow | null> {
  const res = await db.query(GET_ACTION_SQL, [id]);
  return res.rows[0] ? mapActionRow(res.rows[0]) : null;
}
