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
