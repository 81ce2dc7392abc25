import type { Queryable } from '../rows';

/** Removes versions (and, by cascade, their log_stream rows) whose files could not be created. */
export const DELETE_ARTIFACT_VERSIONS_SQL = `DELETE FROM artifact_version WHERE id = ANY($1::bigint[])`;

export async function deleteArtifactVersions(db: Queryable, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(DELETE_ARTIFACT_VERSIONS_SQL, [ids]);
}
