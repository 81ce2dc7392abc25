import type { Queryable } from '../rows';

/** spec 06 §3.2 step 6: the finalised size of a file-backed version (a CHECK rejects it on a still-`pending` row). */
export const SET_ARTIFACT_VERSION_SIZE_SQL = `UPDATE artifact_version SET size_bytes = $2::bigint WHERE id = $1::bigint`;

export async function setArtifactVersionSize(db: Queryable, id: number, sizeBytes: number): Promise<void> {
  await db.query(SET_ARTIFACT_VERSION_SIZE_SQL, [id, sizeBytes]);
}
