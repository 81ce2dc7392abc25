import type { Queryable } from '../rows';
import { mapRuntimeRow, RUNTIME_COLUMNS, type RuntimeRow } from '../models/runtime';

// spec 01 §5 steps 3–4: template (`core.<name>`) and existence (`auto.<name>`) lookups.
// No retired_at filter: `ref` is UNIQUE across retired rows too, so an insert of a retired
// ref would fail anyway.
export const GET_RUNTIME_BY_REF_SQL = `
SELECT ${RUNTIME_COLUMNS}
FROM runtime
WHERE ref = $1::text`;

export async function getRuntimeByRef(db: Queryable, ref: string): Promise<RuntimeRow | null> {
  const res = await db.query(GET_RUNTIME_BY_REF_SQL, [ref]);
  return res.rows[0] ? mapRuntimeRow(res.rows[0]) : null;
}
