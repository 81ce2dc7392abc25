import { toId, toIdOrNull, toStringOrNull, type Queryable } from '../rows';

// spec 07 §1.2 step 9, §1.4, §3.1 step 3: the pack row by ref and its active release (digest).
export const GET_PACK_BY_REF_SQL = `
SELECT p.id, p.ref, p.version, p.active_release, r.digest AS active_release_digest
FROM pack p
LEFT JOIN pack_release r ON r.id = p.active_release
WHERE p.ref = $1::text`;

export interface PackRefRow {
  id: number;
  ref: string;
  version: string | null;
  activeRelease: number | null;
  /** Digest of the active release (64 lowercase hex), null without one. */
  activeReleaseDigest: string | null;
}

export async function getPackByRef(db: Queryable, ref: string): Promise<PackRefRow | null> {
  const res = await db.query(GET_PACK_BY_REF_SQL, [ref]);
  const r = res.rows[0];
  if (!r) return null;
  return {
    id: toId(r.id),
    ref: String(r.ref),
    version: toStringOrNull(r.version),
    activeRelease: toIdOrNull(r.active_release),
    activeReleaseDigest: toStringOrNull(r.active_release_digest),
  };
}
