import { toId, type Queryable } from '../rows';

/** Unsealed `shared_file` streams of an execution (a previous agent process died while it ran). */
export const LIST_UNSEALED_LOG_STREAMS_SQL = `
SELECT v.id AS artifact_version
FROM artifact_version v
JOIN log_stream s ON s.artifact_version = v.id
WHERE v.execution = $1::bigint AND NOT s.sealed AND s.backend = 'shared_file' AND v.body_state = 'pending'
ORDER BY v.id`;

export async function listUnsealedLogStreams(db: Queryable, executionId: number): Promise<number[]> {
  const res = await db.query(LIST_UNSEALED_LOG_STREAMS_SQL, [executionId]);
  return res.rows.map((r: Record<string, unknown>) => toId(r.artifact_version));
}
