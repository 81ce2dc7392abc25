import { prepared } from '../prepared';
import { toId, toStringOrNull, type Queryable } from '../rows';

/** What both listings return per version (toFileArtifact reads it). */
const COLUMNS = 'v.execution, v.id, v.artifact, v.version, v.file_path, v.content_type, v.body_state::text AS body_state';
/** `ls.found` is true for a version backing a log stream (one probe of its unique index). */
const LOG_STREAM_PROBE = 'LEFT JOIN LATERAL (SELECT true AS found FROM log_stream s WHERE s.artifact_version = v.id LIMIT 1) ls ON true';

/**
 * spec 06 §3.2 steps 1–2 (upstream `finalize_file_artifacts`): the file-backed versions the
 * given executions produced, minus their runtime logs (versions with a `log_stream` row), in
 * one query — for one execution, or for those finishing together (issue 18, group commit).
 *
 * The log-stream check is a LATERAL probe with LIMIT 1, not `NOT EXISTS`: for the prepared
 * statement's generic plan PostgreSQL turned `NOT EXISTS` into a hash anti join over a
 * sequential scan of the whole `log_stream` table (two rows per execution ever run), so every
 * execution's listing cost grew with the history — 1.1 ms of backend time at 3 000 streams,
 * and a 20 000-execution soak slowed from ~220 to ~100 executions/s. The probe is one lookup in
 * `log_stream_artifact_version_key` per candidate version (issue 18). Likewise each execution
 * id is its own LATERAL probe of `idx_artifact_version_execution` (`OFFSET 0` keeps PostgreSQL
 * from flattening it into a join): with `execution = ANY($1)`, or a plain join, statistics
 * lagging behind the table made the planner hash-join a scan of the whole table instead.
 */
export const LIST_EXECUTION_FILE_ARTIFACTS_SQL = prepared(
  'list-execution-file-artifacts',
  `
SELECT ${COLUMNS}
FROM (SELECT DISTINCT unnest($1::bigint[]) AS execution) ids
CROSS JOIN LATERAL (
  SELECT * FROM artifact_version x WHERE x.execution = ids.execution AND x.file_path IS NOT NULL OFFSET 0
) v
${LOG_STREAM_PROBE}
WHERE ls.found IS NULL
ORDER BY v.execution, v.artifact, v.version`,
);

/**
 * The same listing for ONE execution (the common case: nothing else finishing at the same time),
 * with a scalar parameter: PostgreSQL then settles on a generic plan after five calls instead of
 * planning the array form anew on every call (a custom plan each time: 0.27 ms of the 0.31 ms it
 * cost per sequential execution, issue 18).
 */
export const LIST_ONE_EXECUTION_FILE_ARTIFACTS_SQL = prepared(
  'list-one-execution-file-artifacts',
  `
SELECT ${COLUMNS}
FROM artifact_version v
${LOG_STREAM_PROBE}
WHERE v.execution = $1::bigint
  AND v.file_path IS NOT NULL
  AND ls.found IS NULL
ORDER BY v.artifact, v.version`,
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
  const res = await db.query(LIST_ONE_EXECUTION_FILE_ARTIFACTS_SQL, [executionId]);
  return (res.rows as Record<string, unknown>[]).map(toFileArtifact);
}

/** Each execution's file artifacts (an empty list for one without any). */
export async function listExecutionsFileArtifacts(db: Queryable, executionIds: readonly number[]): Promise<Map<number, ExecutionFileArtifact[]>> {
  const res = await db.query(LIST_EXECUTION_FILE_ARTIFACTS_SQL, [executionIds]);
  const out = new Map<number, ExecutionFileArtifact[]>(executionIds.map((id) => [id, []]));
  for (const r of res.rows as Record<string, unknown>[]) out.get(toId(r.execution))?.push(toFileArtifact(r));
  return out;
}

function toFileArtifact(r: Record<string, unknown>): ExecutionFileArtifact {
  return {
    id: toId(r.id),
    artifactId: toId(r.artifact),
    version: Number(r.version),
    filePath: String(r.file_path),
    contentType: toStringOrNull(r.content_type),
    bodyState: toStringOrNull(r.body_state),
  };
}
