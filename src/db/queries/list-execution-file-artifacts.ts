import { prepared } from '../prepared';
import { toId, toStringOrNull, type Queryable } from '../rows';

/**
 * spec 06 §3.2 steps 1–2 (upstream `finalize_file_artifacts`): the file-backed versions the
 * given executions produced, minus their runtime logs (versions with a `log_stream` row), in
 * one query — for one execution, or for those finishing together (issue 18, group commit).
 */
export const LIST_EXECUTION_FILE_ARTIFACTS_SQL = prepared(
  'list-execution-file-artifacts',
  `
SELECT v.execution, v.id, v.artifact, v.version, v.file_path, v.content_type, v.body_state::text AS body_state
FROM artifact_version v
WHERE v.execution = ANY($1::bigint[])
  AND v.file_path IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM log_stream s WHERE s.artifact_version = v.id)
ORDER BY v.execution, v.artifact, v.version`,
);

export interface ExecutionFileArtifact {
  id: number;
  artifactId: number;
  version: number;
  filePath: string;
  contentType: string | null;
  bodyState: string | null;
}

export async function listExecutionFileArtifacts(db: Queryable, executionId: number): Promise<ExecutionFileArtifact[]> {
  return (await listExecutionsFileArtifacts(db, [executionId])).get(executionId) ?? [];
}

/** Each execution's file artifacts (an empty list for one without any). */
export async function listExecutionsFileArtifacts(db: Queryable, executionIds: readonly number[]): Promise<Map<number, ExecutionFileArtifact[]>> {
  const res = await db.query(LIST_EXECUTION_FILE_ARTIFACTS_SQL, [executionIds]);
  const out = new Map<number, ExecutionFileArtifact[]>(executionIds.map((id) => [id, []]));
  for (const r of res.rows as Record<string, unknown>[]) {
    out.get(toId(r.execution))?.push({
      id: toId(r.id),
      artifactId: toId(r.artifact),
      version: Number(r.version),
      filePath: String(r.file_path),
      contentType: toStringOrNull(r.content_type),
      bodyState: toStringOrNull(r.body_state),
    });
  }
  return out;
}
