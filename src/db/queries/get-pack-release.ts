import { toId, type Queryable } from '../rows';

// spec 07 §3.2 step 3: the release a pack.registered event names, re-read by id.
export const GET_PACK_RELEASE_SQL = `
SELECT id, pack, pack_ref, version, digest
FROM pack_release
WHERE id = $1::bigint`;

export interface PackReleaseRow {
  id: number;
  pack: number;
  packRef: string;
  version: string;
  digest: string;
}

export async function getPackRelease(db: Queryable, id: number): Promise<PackReleaseRow | null> {
  const res = await db.query(GET_PACK_RELEASE_SQL, [id]);
  const r = res.rows[0];
  if (!r) return null;
  return { id: toId(r.id), pack: toId(r.pack), packRef: String(r.pack_ref), version: String(r.version), digest: String(r.digest) };
}
