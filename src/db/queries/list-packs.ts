import { toId, toIdOrNull, toStringOrNull, type Queryable } from '../rows';
import type { PackRefRow } from './get-pack-by-ref';

// spec 07 §5.2: every pack and its active release, for the Worker-mode environment scan.
export const LIST_PACKS_SQL = `
SELECT p.id, p.ref, p.version, p.active_release, r.digest AS active_release_digest
FROM pack p
LEFT JOIN pack_release r ON r.id = p.active_release
ORDER BY p.ref`;

export async function listPacks(db: Queryable): Promise<PackRefRow[]> {
  const res = await db.query(LIST_PACKS_SQL);
  return res.rows.map((r) => ({
    id: toId(r.id),
    ref: String(r.ref),
    version: toStringOrNull(r.version),
    activeRelease: toIdOrNull(r.active_release),
    activeReleaseDigest: toStringOrNull(r.active_release_digest),
  }));
}
