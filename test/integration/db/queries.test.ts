import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { abandonExecution } from '../../../src/db/queries/abandon-execution';
import { completeExecution } from '../../../src/db/queries/complete-execution';
import { getAction } from '../../../src/db/queries/get-action';
import { getActionByRef } from '../../../src/db/queries/get-action-by-ref';
import { getEnforcement } from '../../../src/db/queries/get-enforcement';
import { getExecution } from '../../../src/db/queries/get-execution';
import { getRuntime } from '../../../src/db/queries/get-runtime';
import { listExecutionSecretValues } from '../../../src/db/queries/list-execution-secret-values';
import { listRunningExecutionsForWorker } from '../../../src/db/queries/list-running-executions-for-worker';
import { claimExecution } from '../../../src/db/queries/claim-execution';
import { updateWorkerCapabilities } from '../../../src/db/queries/update-worker-capabilities';
import { getWorker } from '../../../src/db/queries/get-worker';
import { upsertExecutionSecretValue } from '../../../src/db/queries/upsert-execution-secret-value';
import { registerWorker } from '../../../src/worker/registration';
import { createTestDatabase, type TestDatabase } from '../../support/db';

const DIGEST = 'ab'.repeat(32);
let db: TestDatabase;
let workerId: number;
let actionId: number;
let releaseId: number;
let enforcementId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  const worker = await registerWorker(
    db.pool,
    { name: 'q-worker', workerType: 'container', workerRole: 'action', runtime: null, host: 'h', port: null },
    { runtimes: ['shell', 'native'] },
    createSilentLogger(),
  );
  workerId = worker.id;
  const pack = await db.pool.query("INSERT INTO pack (ref, label, version) VALUES ('mypack', 'My pack', '1.0.0') RETURNING id");
  const packId = pack.rows[0].id;
  const rel = await db.pool.query(
    "INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest) VALUES ($1, 'mypack', '1.0.0', $2, 'x', 0, '{}') RETURNING id",
    [packId, DIGEST],
  );
  releaseId = Number(rel.rows[0].id);
  await db.pool.query('UPDATE pack SET active_release = $1 WHERE id = $2', [releaseId, packId]);
  const shell = await db.pool.query("SELECT id FROM runtime WHERE ref = 'core.shell'");
  const action = await db.pool.query(
    "INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime, out_schema) VALUES ('mypack.deploy', $1, 'mypack', 'Deploy', 'deploy.sh', $2, '{\"token\": {\"type\": \"string\", \"secret\": true}}') RETURNING id",
    [packId, shell.rows[0].id],
  );
  actionId = Number(action.rows[0].id);
  const enf = await db.pool.query(
    "INSERT INTO enforcement (rule_ref, trigger_ref, payload) VALUES ('mypack.on_push', 'mypack.push', '{}') RETURNING id",
  );
  enforcementId = Number(enf.rows[0].id);
});

afterAll(async () => {
  await db?.drop();
});

/** A pinned execution of mypack.deploy for this worker; `withEnforcement` links the seeded enforcement. */
async function insertExecution(status: string, opts: { traceTag?: string; withEnforcement?: boolean } = {}): Promise<number> {
  const res = await db.pool.query(
    `INSERT INTO execution (action, action_ref, status, worker, pack_release, pack_release_digest, executable_snapshot, config, enforcement, trace_tag)
     VALUES ($1, 'mypack.deploy', $2::execution_status_enum, $3, $4, $5, $6::jsonb, '{"name": "x"}', $7, $8) RETURNING id`,
    [
      actionId,
      status,
      workerId,
      releaseId,
      DIGEST,
      JSON.stringify({ release: { id: releaseId, digest: DIGEST, content_path: 'x' } }),
      opts.withEnforcement ? enforcementId : null,
      opts.traceTag ?? null,
    ],
  );
  return Number(res.rows[0].id);
}

describe('execution queries', () => {
  it('reads the spec column list with camelCase fields and never exposes workflow_def', async () => {
    const id = await insertExecution('scheduled', { traceTag: 'trace-1' });
    const row = await getExecution(db.pool, id);
    expect(row).toMatchObject({
      id,
      action: actionId,
      actionRef: 'mypack.deploy',
      packRelease: releaseId,
      packReleaseDigest: DIGEST,
      config: { name: 'x' },
      enforcement: null,
      worker: workerId,
      status: 'scheduled',
      traceTag: 'trace-1',
      permissionSetRefs: [],
      retryCount: 0,
      startedAt: null,
    });
    expect(row).not.toHaveProperty('workflowDef');
    expect(await getExecution(db.pool, 99999999)).toBeNull();
  });

  it('marks running with a NOTIFY carrying the upstream payload, then completes once only', async () => {
    const id = await insertExecution('scheduled', { traceTag: 'trace-2', withEnforcement: true });
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const payloads: Record<string, unknown>[] = [];
    listener.on('notification', (n) => payloads.push(JSON.parse(n.payload ?? '{}') as Record<string, unknown>));
    await listener.query('LISTEN execution_status_changed');
    try {
      const startedAt = new Date();
      const claim = await claimExecution(db.pool, { id, releaseId, releaseDigest: DIGEST, startedAt });
      expect(claim).toMatchObject({ claimed: true, row: { id, status: 'running' } });
      expect(claim!.row.startedAt!.getTime()).toBe(startedAt.getTime());

      const done = await completeExecution(db.pool, { id, status: 'completed', result: { exit_code: 0, succeeded: true } });
      // The UPDATE does not send the result back (the caller has it); the row holds it.
      expect(done).toMatchObject({ status: 'completed', result: null });
      expect((await getExecution(db.pool, id))!.result).toEqual({ exit_code: 0, succeeded: true });

      // A second terminal write and a late "running" must not touch the finished row.
      expect(await completeExecution(db.pool, { id, status: 'failed', result: { succeeded: false } })).toBeNull();
      expect(await claimExecution(db.pool, { id, releaseId, releaseDigest: DIGEST })).toMatchObject({ claimed: false, row: { status: 'completed' } });
      expect((await getExecution(db.pool, id))!.status).toBe('completed');

      const deadline = Date.now() + 3000;
      while (payloads.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(payloads).toHaveLength(2);
      expect(payloads[0]).toMatchObject({
        entity_type: 'execution',
        entity_id: id,
        id,
        action_id: actionId,
        action_ref: 'mypack.deploy',
        status: 'running',
        old_status: 'scheduled',
        trace_tag: 'trace-2',
        enforcement: enforcementId,
        rule_ref: 'mypack.on_push',
        trigger_ref: 'mypack.push',
        parent: null,
        workflow_task: null,
        auth_mode: 'full',
      });
      expect(Object.keys(payloads[0]!)).toEqual([
        'entity_type', 'entity_id', 'id', 'action_id', 'action_ref', 'status', 'old_status', 'trace_tag', 'enforcement',
        'rule_ref', 'trigger_ref', 'parent', 'started_at', 'workflow_task', 'created', 'updated', 'auth_mode',
      ]);
      expect(payloads[1]).toMatchObject({ status: 'completed', old_status: 'running' });

      const hist = await db.pool.query(
        "SELECT changed_fields, new_values FROM execution_history WHERE entity_id = $1 AND operation = 'UPDATE' ORDER BY time",
        [id],
      );
      expect(hist.rows.map((r: { changed_fields: string[] }) => r.changed_fields)).toEqual([['status', 'started_at'], ['status', 'result']]);
      expect(hist.rows[1].new_values.result).toMatchObject({ type: 'object' });
      expect(hist.rows[1].new_values.result.digest).toMatch(/^md5:[0-9a-f]{32}$/);
    } finally {
      await listener.end();
    }
  });

  it('does not start a canceling or cancelled execution', async () => {
    const canceling = await insertExecution('canceling');
    expect(await claimExecution(db.pool, { id: canceling, releaseId, releaseDigest: DIGEST })).toMatchObject({ claimed: false, row: { status: 'canceling' } });
    // ...but a cancel request can be finished as cancelled
    expect(await completeExecution(db.pool, { id: canceling, status: 'cancelled', result: { succeeded: false } })).toMatchObject({
      status: 'cancelled',
    });
  });

  it('lists this worker\'s running executions and abandons them', async () => {
    const a = await insertExecution('running');
    const b = await insertExecution('running');
    const other = await insertExecution('scheduled');
    const running = await listRunningExecutionsForWorker(db.pool, workerId);
    expect(running.map((r) => r.id)).toEqual(expect.arrayContaining([a, b]));
    expect(running.map((r) => r.id)).not.toContain(other);
    const abandoned = await abandonExecution(db.pool, a, { succeeded: false, error: 'agent restarted' });
    expect(abandoned).toMatchObject({ status: 'abandoned', result: { error: 'agent restarted' } });
    expect(await abandonExecution(db.pool, other, {})).toBeNull();
    expect(await abandonExecution(db.pool, a, {})).toBeNull();
  });
});

describe('action, runtime and enforcement reads', () => {
  it('reads the action with effective_enabled as enabled, including retired rows by id only', async () => {
    await db.pool.query('UPDATE action SET enabled_override = false WHERE id = $1', [actionId]);
    const action = await getAction(db.pool, actionId);
    expect(action).toMatchObject({
      ref: 'mypack.deploy',
      packRef: 'mypack',
      enabled: false,
      enabledOverride: false,
      entrypoint: 'deploy.sh',
      parameterDelivery: 'stdin',
      parameterFormat: 'json',
      outputFormat: 'text',
      requiredWorkerRuntimes: {},
      workerTolerations: [],
      outSchema: { token: { type: 'string', secret: true } },
      referenceVisibility: 'public',
    });
    await db.pool.query('UPDATE action SET retired_at = NOW() WHERE id = $1', [actionId]);
    expect(await getAction(db.pool, actionId)).not.toBeNull();
    expect(await getActionByRef(db.pool, 'mypack.deploy')).toBeNull();
    await db.pool.query('UPDATE action SET retired_at = NULL, enabled_override = NULL WHERE id = $1', [actionId]);
    expect((await getActionByRef(db.pool, 'mypack.deploy'))!.enabled).toBe(true);
  });

  it('reads a runtime by id and an enforcement row', async () => {
    const action = await getAction(db.pool, actionId);
    const runtime = await getRuntime(db.pool, action!.runtime!);
    expect(runtime).toMatchObject({ ref: 'core.shell', name: 'Shell', aliases: ['shell', 'bash', 'sh'] });
    expect(runtime!.executionConfig.interpreter).toEqual({ binary: '/bin/bash', args: [], file_extension: '.sh' });
    const enf = await getEnforcement(db.pool, enforcementId);
    expect(enf).toMatchObject({ ruleRef: 'mypack.on_push', triggerRef: 'mypack.push', status: 'created', condition: 'all', conditions: [] });
  });
});

describe('execution_secret_value', () => {
  it('upserts on (entity_type, entity_id, json_path) and lists in json_path order', async () => {
    const id = await insertExecution('scheduled');
    const base = { entityType: 'execution_result', entityId: id, sourceKind: 'parameter_schema', sourceRef: null, encryptionKeyHash: 'h1' };
    await upsertExecutionSecretValue(db.pool, { ...base, jsonPath: '/data/token', encryptedValue: 'c2VjcmV0MQ==' });
    await upsertExecutionSecretValue(db.pool, { ...base, jsonPath: '/data/a', encryptedValue: 'YQ==' });
    const updated = await upsertExecutionSecretValue(db.pool, {
      ...base,
      jsonPath: '/data/token',
      encryptedValue: 'c2VjcmV0Mg==',
      encryptionKeyHash: 'h2',
      sourceRef: 'ref',
    });
    expect(updated).toMatchObject({ encryptedValue: 'c2VjcmV0Mg==', encryptionKeyHash: 'h2', sourceRef: 'ref' });
    const rows = await listExecutionSecretValues(db.pool, 'execution_result', id);
    expect(rows.map((r) => [r.jsonPath, r.encryptedValue])).toEqual([
      ['/data/a', 'YQ=='],
      ['/data/token', 'c2VjcmV0Mg=='],
    ]);
    const stored = await db.pool.query("SELECT jsonb_typeof(encrypted_value) AS t FROM execution_secret_value WHERE json_path = '/data/a'");
    expect(stored.rows[0].t).toBe('string');
    expect(await listExecutionSecretValues(db.pool, 'execution_config', id)).toEqual([]);
  });
});

describe('worker capability updates', () => {
  it('replaces the whole capabilities JSON', async () => {
    expect(await updateWorkerCapabilities(db.pool, workerId, { runtimes: ['shell', 'native'], runtime_versions: { node: ['20'] } })).toBe(true);
    expect((await getWorker(db.pool, workerId))!.capabilities).toEqual({ runtimes: ['shell', 'native'], runtime_versions: { node: ['20'] } });
  });
});
