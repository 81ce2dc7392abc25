import type { Queryable } from '../rows';

// to_regclass returns NULL instead of failing for a missing relation. Both parts are
// quote_ident-ed server-side, so schema names never need escaping in TypeScript. With a NULL
// schema the name resolves through the session search_path (spec 04 §1.4).
export const RELATION_EXISTS_SQL = `
SELECT to_regclass(
         CASE WHEN $1::text IS NULL THEN quote_ident($2::text)
              ELSE quote_ident($1::text) || '.' || quote_ident($2::text) END
       ) IS NOT NULL AS present`;

export interface RelationRef {
  /** null → resolve through search_path. */
  schema: string | null;
  name: string;
}

export async function relationExists(db: Queryable, ref: RelationRef): Promise<boolean> {
  const res = await db.query(RELATION_EXISTS_SQL, [ref.schema, ref.name]);
  return res.rows[0]?.present === true;
}
