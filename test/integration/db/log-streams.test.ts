/**
 * The log stream queries against the development schema (spec 06 §2.2–§2.4, §3.2): one
 * statement creates both streams' rows; the file-artifact query skips log versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecutionLogStreams, createExecutionsLogStreams, type CreateExecutionLogStreamsInput } from '../../../src/db/queries/create-execution-log-streams';
import type { Queryable } from '../../../src/db/rows';
import { LogStreamAllocations } from '../../../src/logs/log-stream-allocations';
import { deleteArtifactVersions } from '../../../src/db/queries/delete-artifact-versions';
import { listExecutionFileArtifacts, listExecutionsFileArtifacts } from '../../../src/db/queries/list-execution-file-artifacts';
import { logArtifactDescription, logArtifactName, logArtifactRef } from '../../../src/logs/names';
import { createTestDatabase, type TestDatabase } from '../../support/db';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

function input(executionId: number, actionRef = 'mypack.a', policy = 'days', limit = 7): CreateExecutionLogStreamsInput {
  return {
    executionId,
    actionRef,
    streams: (['stdout', 'stderr'] as const).map((s) => ({
      stream: s,
      ref: logArtifactRef(actionRef, s),
      name: logArtifactName(actionRef, s),
      description: logArtifactDescription(actionRef, s, policy as 'days', limit),
    })),
    retentionPolicy: policy,
    retentionLimit: limit,
    backend: 'shared_file',
    maxUnflushedBytes: 1_048_576,
    maxUnflushedMs: 500,
  };
}

describe('createExecutionLogStreams', () => {
  it('creates artifact, pending version with file_path and log_stream for both streams in one call', async () => {
    const rows = await createExecutionLogStreams(db.pool, input(1001));
    expect(rows.map((r) => [r.stream, r.version, r.filePath])).toEqual([
      ['stdout', 1, 'mypack/a/stdout/log/v1.txt'],
      ['stderr', 1, 'mypack/a/stderr/log/v1.txt'],
    ]);
    const v = await db.pool.query(
      `SELECT v.body_state, v.object_key, v.size_bytes, v.sha256, v.provider_version, v.content_type, v.meta, v.created_by, s.backend, s.max_unflushed_bytes, s.max_unflushed_milliseconds, s.next_sequence, s.total_bytes, s.sealed, s.truncated, s.sealed_at
       FROM artifact_version v JOIN log_stream s ON s.artifact_version = v.id WHERE v.id = $1`,
      [rows[0]!.artifactVersionId],
    );
    expect(v.rows[0]).toEqual({
      body_state: 'pending', object_key: null, size_bytes: null, sha256: null, provider_version: null, content_type: 'text/plain',
      meta: { stream: 'stdout', execution_id: 1001 }, created_by: 'worker', backend: 'shared_file', max_unflushed_bytes: '1048576',
      max_unflushed_milliseconds: '500', next_sequence: '0', total_bytes: '0', sealed: false, truncated: false, sealed_at: null,
    });
  });

  it('numbers 20 concurrent allocations of one action 2..21 without gaps or duplicates', async () => {
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => createExecutionLogStreams(db.pool, input(2000 + i))));
    const versions = all.map((r) => r[0]!.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const artifacts = await db.pool.query(`SELECT count(*)::int AS n FROM artifact WHERE ref = 'mypack.a.stdout.log'`);
    expect(artifacts.rows[0].n).toBe(1);
  });

  it('refreshes retention of an existing artifact, keeping its name and description', async () => {
    await createExecutionLogStreams(db.pool, input(3001, 'mypack.a', 'versions', 3));
    const a = await db.pool.query(`SELECT retention_policy, retention_limit, description FROM artifact WHERE ref = 'mypack.a.stdout.log'`);
    expect(a.rows[0]).toEqual({ retention_policy: 'versions', retention_limit: 3, description: "Captured stdout for action 'mypack.a' (retention: Days 7)" });
  });

  it('writes object keys for object_segments streams', async () => {
    const rows = await createExecutionLogStreams(db.pool, { ...input(4001, 'mypack.obj'), backend: 'object_segments' });
    const v = await db.pool.query(`SELECT object_key FROM artifact_version WHERE id = $1`, [rows[0]!.artifactVersionId]);
    expect(v.rows[0].object_key).toBe(`artifacts/${rows[0]!.artifactId}/v1`);
  });

  it('allocates several executions of one action in one statement, versions in the order given', async () => {
    const { executionId: _first, streams, ...common } = input(0, 'mypack.batch');
    const rows = await createExecutionsLogStreams(db.pool, common, [7003, 7001, 7002].map((executionId) => ({ executionId, streams })));
    expect([...rows.entries()].map(([id, r]) => [id, r.map((x) => `${x.stream}:v${x.version}`)])).toEqual([
      [7003, ['stdout:v1', 'stderr:v1']],
      [7001, ['stdout:v2', 'stderr:v2']],
      [7002, ['stdout:v3', 'stderr:v3']],
    ]);
    const meta = await db.pool.query(
      `SELECT v.version, v.meta, v.file_path FROM artifact_version v JOIN artifact a ON a.id = v.artifact WHERE a.ref = 'mypack.batch.stderr.log' ORDER BY v.version`,
    );
    expect(meta.rows).toEqual([
      { version: 1, meta: { stream: 'stderr', execution_id: 7003 }, file_path: 'mypack/batch/stderr/log/v1.txt' },
      { version: 2, meta: { stream: 'stderr', execution_id: 7001 }, file_path: 'mypack/batch/stderr/log/v2.txt' },
      { version: 3, meta: { stream: 'stderr', execution_id: 7002 }, file_path: 'mypack/batch/stderr/log/v3.txt' },
    ]);
    const artifacts = await db.pool.query(`SELECT count(*)::int AS n FROM artifact WHERE ref LIKE 'mypack.batch.%'`);
    expect(artifacts.rows[0].n).toBe(2);
  });

  it('groups concurrent allocations of one action: fewer statements than executions, no collision, no gap', async () => {
    let statements = 0;
    const counting: Queryable = {
      query: (text, values) => {
        statements++;
        return db.pool.query(text, values);
      },
    };
    const alloc = new LogStreamAllocations(counting);
    const { executionId: _x, streams, ...common } = input(0, 'mypack.group');
    const all = await Promise.all(Array.from({ length: 24 }, (_, i) => alloc.allocate(common, 8000 + i, streams)));
    expect(all.map((r) => r[0]!.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(all.every((r) => r.length === 2 && r[0]!.stream === 'stdout' && r[1]!.stream === 'stderr')).toBe(true);
    // The first goes alone; the 23 that arrived meanwhile go together.
    expect(statements).toBe(2);
  });

  it('retries a failed batch one by one, so only the execution at fault gets the error', async () => {
    const failing: Queryable = {
      query: (text, values) => {
        const ids = (values?.[0] ?? []) as number[];
        if (ids.length > 2) return Promise.reject(new Error('batch refused'));
        if (ids.includes(9002)) return Promise.reject(Object.assign(new Error('this one is bad'), { code: '23514' }));
        return db.pool.query(text, values);
      },
    };
    const alloc = new LogStreamAllocations(failing);
    const { executionId: _x, streams, ...common } = input(0, 'mypack.fallback');
    const results = await Promise.allSettled([9000, 9001, 9002, 9003].map((id) => alloc.allocate(common, id, streams)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23514' });
  });

  it('the path CHECKs of 0009 reject unsafe refs', async () => {
    await expect(createExecutionLogStreams(db.pool, input(5001, 'bad..ref'))).rejects.toMatchObject({ code: '23514' });
  });
});

describe('listExecutionFileArtifacts / deleteArtifactVersions', () => {
  it('lists file-backed versions of the execution except its log streams', async () => {
    const logs = await createExecutionLogStreams(db.pool, input(6001, 'mypack.f'));
    const art = await db.pool.query(`INSERT INTO artifact (ref, type) VALUES ('mypack.report', 'file_text') RETURNING id`);
    await db.pool.query(
      `INSERT INTO artifact_version (artifact, version, execution, body_state, object_key, file_path) VALUES ($1, 1, 6001, 'pending', 'artifacts/x/uploads/1', 'mypack/report/v1.txt')`,
      [art.rows[0].id],
    );
    const files = await listExecutionFileArtifacts(db.pool, 6001);
    expect(files.map((f) => f.filePath)).toEqual(['mypack/report/v1.txt']);
    // Several executions in one query: each gets its own list, an empty one when it made none.
    const many = await listExecutionsFileArtifacts(db.pool, [6002, 6001]);
    expect([...many.entries()].map(([id, l]) => [id, l.map((f) => f.filePath)])).toEqual([
      [6002, []],
      [6001, ['mypack/report/v1.txt']],
    ]);
    await deleteArtifactVersions(db.pool, logs.map((l) => l.artifactVersionId));
    const left = await db.pool.query(`SELECT count(*)::int AS n FROM log_stream s JOIN artifact_version v ON v.id = s.artifact_version WHERE v.execution = 6001`);
    expect(left.rows[0].n).toBe(0);
  });
});

/**
 * issue 18: the per-execution statements must not read the whole history of an action's log
 * artifacts. Every execution of an action adds one version to each of its two log artifacts,
 * so a plan that scans by artifact (or the whole table) grows with every run. Checked with
 * EXPLAIN ANALYZE, for custom and generic plans, on 3 000 versions whose statistics were taken
 * when the tables were nearly empty (autovacuum off), the state in which the planner chose them.
 */
describe('per-execution log statements stay independent of the history (issue 18)', () => {
  type PlanNode = { 'Relation Name'?: string; 'Actual Rows'?: number; 'Actual Loops'?: number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] };
  /** Rows the plan read from artifact_version and log_stream (returned plus filtered out). */
  function rowsRead(node: PlanNode): number {
    const own = node['Relation Name'] === 'artifact_version' || node['Relation Name'] === 'log_stream'
      ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1)
      : 0;
    return own + (node.Plans ?? []).reduce((n, p) => n + rowsRead(p), 0);
  }

  /**
   * EXPLAIN ANALYZE of `sql` as a prepared statement (as the agent sends it, so that
   * plan_cache_mode picks the plan), in a transaction that is rolled back; returns the rows read.
   */
  async function measure(sql: string, values: unknown[], planCacheMode: 'force_custom_plan' | 'force_generic_plan'): Promise<number> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL plan_cache_mode = ${planCacheMode}`);
      await client.query(`PREPARE measured AS ${sql}`);
      // EXECUTE takes no bind parameters: the values go in as literals.
      const literal = (v: unknown): string =>
        Array.isArray(v) ? `ARRAY[${v.map(literal).join(', ')}]` : typeof v === 'number' ? String(v) : client.escapeLiteral(String(v));
      const res = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE measured(${values.map(literal).join(', ')})`);
      const plan = (res.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan;
      return rowsRead(plan);
    } finally {
      await client.query('ROLLBACK');
      await client.query('DEALLOCATE ALL');
      client.release();
    }
  }

  it('allocating log streams and listing file artifacts read a few rows, not every version', async () => {
    const ref = 'mypack.hist';
    await db.pool.query('ALTER TABLE artifact_version SET (autovacuum_enabled = false)');
    await db.pool.query('ALTER TABLE log_stream SET (autovacuum_enabled = false)');
    await createExecutionLogStreams(db.pool, input(700_000, ref));
    await db.pool.query('ANALYZE artifact_version');
    await db.pool.query('ANALYZE log_stream');
    for (let batch = 0; batch < 15; batch++) {
      const ids = Array.from({ length: 100 }, (_, i) => 700_001 + batch * 100 + i);
      await createExecutionsLogStreams(db.pool, input(ids[0]!, ref), ids.map((id) => ({ executionId: id, streams: input(id, ref).streams })));
    }
    const versions = await db.pool.query(`SELECT count(*)::int AS n FROM artifact_version v JOIN artifact a ON a.id = v.artifact WHERE a.ref LIKE 'mypack.hist.%'`);
    expect(versions.rows[0].n).toBe(3002);

    const { CREATE_EXECUTION_LOG_STREAMS_SQL } = await import('../../../src/db/queries/create-execution-log-streams');
    const { LIST_EXECUTION_FILE_ARTIFACTS_SQL, LIST_ONE_EXECUTION_FILE_ARTIFACTS_SQL } = await import('../../../src/db/queries/list-execution-file-artifacts');
    const next = input(702_000, ref);
    const allocation = [
      [702_000, 702_000], next.streams.map((s) => s.stream), next.streams.map((s) => s.ref), next.streams.map((s) => s.name),
      next.streams.map((s) => s.description), next.retentionPolicy, next.retentionLimit, next.actionRef, next.backend, next.maxUnflushedBytes, next.maxUnflushedMs,
    ];
    for (const mode of ['force_custom_plan', 'force_generic_plan'] as const) {
      // Two new versions plus one probe of the newest per artifact; a scan would read ~3 000.
      expect(await measure(CREATE_EXECUTION_LOG_STREAMS_SQL, allocation, mode), `allocation, ${mode}`).toBeLessThan(50);
      // Four log versions of two executions, each probed once in log_stream.
      expect(await measure(LIST_EXECUTION_FILE_ARTIFACTS_SQL, [[700_500, 700_501]], mode), `file-artifact listing, ${mode}`).toBeLessThan(50);
      expect(await measure(LIST_ONE_EXECUTION_FILE_ARTIFACTS_SQL, [700_500], mode), `one execution's file-artifact listing, ${mode}`).toBeLessThan(50);
    }
    await db.pool.query('ALTER TABLE artifact_version RESET (autovacuum_enabled)');
    await db.pool.query('ALTER TABLE log_stream RESET (autovacuum_enabled)');
  });
});
