import type { Queryable } from '../rows';

// spec 06 §6.1 start-up sync: every pack with an `active_release` and that release's digest
// (upstream lists packs, then reads each release; one join here).
export const LIST_ACTIVE_PACK_RELEASES_SQL = `
SELECT p.ref AS pack_ref, r.id AS release_id, r.digest
FROM pack p
JOIN pack_release r ON r.id = p.active_release
ORDER BY p.ref`;

export interface ActivePackReleaseRow {
  packRef: string;
  releaseId: number;
  digest: string;
}

export async function listActivePackReleases(db: Queryable): Promise<ActivePackReleaseRow[]> {
  const res = await db.query(LIST_ACTIVE_PACK_RELEASES_SQL);
  return res.rows.map((r: Record<string, unknown>) => ({ packRef: String(r.pack_ref), releaseId: Number(r.release_id), digest: String(r.digest) }));
}
