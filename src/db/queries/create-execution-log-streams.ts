import { prepared } from '../prepared';
import { sqlState, SQLSTATE_UNIQUE_VIOLATION, toId, type Queryable } from '../rows';

/**
 * spec 06 §2.1–§2.4 (upstream `allocate_execution_log_artifacts`, `create_log_pending`,
 * `create_with_backend`) in ONE statement for both streams of one or more executions of the
 * same action: find each artifact by ref (first match) or insert it; refresh its
 * retention/classification/visibility when they differ; insert the `pending` versions numbered
 * max+1, max+2 … in input order with their `file_path`; insert the `log_stream` rows. Upstream
 * needs ~10 round trips per execution for this (and a second UPDATE for `file_path`, i.e. a
 * second NOTIFY); the rows and columns are the same.
 *
 * Concurrency: instead of upstream's advisory lock around max+1, a concurrent allocation of the
 * same version number fails on `uq_artifact_version_artifact_version` and the statement is
 * retried (upstream retries that violation too). This agent's own executions of one action are
 * allocated together (logs/log-stream-allocations.ts, issue 18), so they never collide with
 * each other. Two *first* executions of an action racing can both insert the artifact (ref is
 * not unique in the DDL) — the same race as upstream's find-then-insert; later runs use the
 * lowest id.
 *
 * The highest version is the first row of a backward walk of
 * `idx_artifact_version_artifact_version` from just below `(artifact + 1, 0)`, kept only when it
 * belongs to the artifact — not `max(version) … WHERE artifact = …`. All executions of an action
 * share its two log artifacts, so their versions grow with the history, and with statistics
 * lagging behind the table (a fresh database between autoanalyze runs) the planner estimated
 * one version per artifact and read them all through `idx_artifact_version_artifact` plus a
 * sort (~4 000 rows per allocation after 4 000 executions, issue 18). The row comparison leaves
 * that index no way to the order asked for except sorting everything below the bound, so the
 * backward walk, which stops at its first row, is the plan whatever the statistics say.
 */
export const CREATE_EXECUTION_LOG_STREAMS_SQL = prepared(
  'create-execution-log-streams',
  `
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(execution, stream, ref, name, description, ord)
),
refs AS (
  SELECT DISTINCT ON (i.ref) i.ref, i.name, i.description, i.ord FROM input i ORDER BY i.ref, i.ord
),
existing AS (
  SELECT DISTINCT ON (a.ref) a.id, a.ref, a.retention_policy, a.retention_limit, a.classification, a.visibility
  FROM artifact a JOIN refs r ON a.ref = r.ref
  ORDER BY a.ref, a.id
),
refreshed AS (
  UPDATE artifact a
  SET retention_policy = $6::artifact_retention_enum, retention_limit = $7::integer,
      classification = 'runtime_log', visibility = 'private', updated = NOW()
  FROM existing e
  WHERE a.id = e.id
    AND (e.retention_policy <> $6::artifact_retention_enum OR e.retention_limit <> $7::integer
         OR e.classification <> 'runtime_log' OR e.visibility <> 'private')
  RETURNING a.id
),
created AS (
  INSERT INTO artifact (ref, scope, owner, type, visibility, classification, retention_policy, retention_limit,
                        name, description, content_type, data)
  SELECT r.ref, 'action', $8::text, 'file_text', 'private', 'runtime_log', $6::artifact_retention_enum, $7::integer,
         r.name, r.description, 'text/plain', NULL
  FROM refs r
  WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.ref = r.ref)
  ORDER BY r.ord
  RETURNING id, ref
),
base AS (
  SELECT r.ref, COALESCE(e.id, c.id) AS artifact,
         COALESCE((SELECT t.version FROM (
                    SELECT v.artifact, v.version FROM artifact_version v
                    WHERE (v.artifact, v.version) < (e.id + 1, 0)
                    ORDER BY v.artifact DESC, v.version DESC LIMIT 1
                  ) t WHERE t.artifact = e.id), 0) AS top
  FROM refs r
  LEFT JOIN existing e ON e.ref = r.ref
  LEFT JOIN created c ON c.ref = r.ref
),
art AS (
  SELECT i.execution, i.stream, i.ord, i.ref, b.artifact,
         b.top + row_number() OVER (PARTITION BY i.ref ORDER BY i.ord) AS version
  FROM input i JOIN base b ON b.ref = i.ref
),
versions AS (
  INSERT INTO artifact_version (artifact, version, execution, content_type, body_state, object_key, meta, created_by, file_path)
  SELECT a.artifact, a.version, a.execution, 'text/plain', 'pending',
         CASE WHEN $9::text = 'object_segments' THEN 'artifacts/' || a.artifact || '/v' || a.version END,
         jsonb_build_object('stream', a.stream, 'execution_id', a.execution), 'worker',
         replace(a.ref, '.', '/') || '/v' || a.version || '.txt'
  FROM art a
  ORDER BY a.ord
  RETURNING id, artifact, version, file_path, execution, meta->>'stream' AS stream
),
streams AS (
  INSERT INTO log_stream (artifact_version, backend, max_unflushed_bytes, max_unflushed_milliseconds)
  SELECT v.id, $9::log_stream_backend_enum, $10::bigint, $11::bigint FROM versions v
  RETURNING id, artifact_version
)
SELECT v.execution, v.stream, v.artifact, v.id AS artifact_version, v.version, v.file_path, s.id AS log_stream
FROM versions v JOIN streams s ON s.artifact_version = v.id`,
);

export type LogStreamName = 'stdout' | 'stderr';
export type LogStreamBackend = 'shared_file' | 'object_segments';

export interface LogStreamSpec {
  stream: LogStreamName;
  ref: string;
  name: string;
  description: string;
}

/** What the executions of one allocation share (one action, one retention, one backend). */
export interface LogStreamAllocationCommon {
  actionRef: string;
  retentionPolicy: string;
  retentionLimit: number;
  backend: LogStreamBackend;
  maxUnflushedBytes: number;
  maxUnflushedMs: number;
}

export interface CreateExecutionLogStreamsInput extends LogStreamAllocationCommon {
  executionId: number;
  streams: readonly LogStreamSpec[];
}

export interface CreatedLogStream {
  stream: LogStreamName;
  artifactId: number;
  artifactVersionId: number;
  version: number;
  filePath: string;
  logStreamId: number;
}

/** Each round lets at least one contender per artifact through; 25 covers any realistic crowd. */
const MAX_ATTEMPTS = 25;

/** One execution's streams (see createExecutionsLogStreams). */
export async function createExecutionLogStreams(db: Queryable, input: CreateExecutionLogStreamsInput): Promise<CreatedLogStream[]> {
  const rows = await createExecutionsLogStreams(db, input, [{ executionId: input.executionId, streams: input.streams }]);
  return rows.get(input.executionId) ?? [];
}

/**
 * The streams of several executions of one action in one statement; versions are numbered in
 * the order given. Returns each execution's rows, in its streams' order.
 */
export async function createExecutionsLogStreams(
  db: Queryable,
  common: LogStreamAllocationCommon,
  executions: ReadonlyArray<{ executionId: number; streams: readonly LogStreamSpec[] }>,
): Promise<Map<number, CreatedLogStream[]>> {
  const flat = executions.flatMap((e) => e.streams.map((s) => ({ executionId: e.executionId, ...s })));
  const params = [
    flat.map((f) => f.executionId),
    flat.map((f) => f.stream),
    flat.map((f) => f.ref),
    flat.map((f) => f.name),
    flat.map((f) => f.description),
    common.retentionPolicy,
    common.retentionLimit,
    common.actionRef,
    common.backend,
    common.maxUnflushedBytes,
    common.maxUnflushedMs,
  ];
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await db.query(CREATE_EXECUTION_LOG_STREAMS_SQL, params);
      const out = new Map<number, CreatedLogStream[]>(executions.map((e) => [e.executionId, []]));
      for (const r of res.rows as Record<string, unknown>[]) {
        out.get(toId(r.execution))?.push({
          stream: String(r.stream) as LogStreamName,
          artifactId: toId(r.artifact),
          artifactVersionId: toId(r.artifact_version),
          version: Number(r.version),
          filePath: String(r.file_path),
          logStreamId: toId(r.log_stream),
        });
      }
      // RETURNING order is not guaranteed: give each execution its streams in the order asked.
      for (const e of executions) out.get(e.executionId)?.sort((a, b) => e.streams.findIndex((s) => s.stream === a.stream) - e.streams.findIndex((s) => s.stream === b.stream));
      return out;
    } catch (e) {
      // A concurrent execution of the same action (another agent) took a version number: compute
      // again, after a short random pause so a crowd of contenders does not collide in lockstep.
      if (sqlState(e) !== SQLSTATE_UNIQUE_VIOLATION || attempt >= MAX_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 10 * Math.min(attempt, 5))));
    }
  }
}
