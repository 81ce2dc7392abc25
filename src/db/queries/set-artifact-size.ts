import type { Queryable } from '../rows';

/** spec 06 §3.2 step 7: the artifact's size = that of its highest finalised version. */
export const SET_ARTIFACT_SIZE_SQL = `UPDATE artifact SET size_bytes = $2::bigint, updated = NOW() WHERE id = $1::bigint`;

export async function setArtifactSize(db: Queryable, id: number, sizeBytes: number): Promise<void> {
  await db.query(SET_ARTIFACT_SIZE_SQL, [id, sizeBytes]);
}
