/**
 * The development schema matches upstream's newest migrations (e76cd03) where the agent
 * touches it, and the triggers upstream runs on the agent's writes fire here too: history
 * rows routed into daily partitions, the execution audit trail, hourly-summary invalidation,
 * workflow NOTIFY — and the failure and locking behaviour they bring (spec 07 §7.3–§7.6).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { completeExecution } from '../../../src/db/queries/complete-execution';
import { deregisterWorker } from '../../../src/db/queries/deregister-worker';
import { getAction } from '../../../src/db/queries/get-action';
import { heartbeatWorker } from '../../../src/db/queries/heartbeat-worker';
import { claimExecution } from '../../../src/db/queries/claim-execution';
import type { Queryable } from '../../../src/db/rows';
import { registerWorker } from '../../../src/worker/registration';
import { adminQuery, createTestDatabase, quoteIdent, type TestDatabase } from '../../support/db';

let db: TestDatabase;

/** The agent's dispatch claim (the statement that marks a row `running`), for an unpinned row. */
function markRunning(q: Queryable, id: number) {
  return claimExecution(q, { id, releaseId: null, releaseDigest: null });
}

let workerId: number;
let actionId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  const worker = await registerWorker(
    db.pool,
    { name: 'drift-worker', workerType: 'container', workerRole: 'action', runtime: null, host: 'h', port: null },
    { runtimes: ['shell', 'native'] },
    createSilentLogger(),
  );
  workerId = worker.id;
  const pack = await db.pool.query("INSERT INTO pack (ref, label, version) VALUES ('drift', 'Drift', '1.0.0') RETURNING id");
  const shell = await db.pool.query("SELECT id FROM runtime WHERE ref = 'core.shell'");
  const action = await db.pool.query(
    "INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime) VALUES ('drift.run', $1, 'drift', 'Run', 'run.sh', $2) RETURNING id",
    [pack.rows[0].id, shell.rows[0].id],
  );
  actionId = Number(action.rows[0].id);
});

afterAll(async () => {
  await db?.drop();
});

async function insertExecution(opts: { workflowDef?: number; parent?: number; enforcement?: number } = {}): Promise<number> {
  const res = await db.pool.query(
    `INSERT INTO execution (action, action_ref, status, worker, workflow_def, parent, enforcement)
     VALUES ($1, 'drift.run', 'scheduled', $2, $3, $4, $5) RETURNING id`,
    [actionId, workerId, opts.workflowDef ?? null, opts.parent ?? null, opts.enforcement ?? null],
  );
  return Number(res.rows[0].id);
}

async function enumLabels(type: string): Promise<string[]> {
  const res = await db.pool.query(
    'SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = $1',
    [type],
  );
  return res.rows[0].labels;
}

function todayLeaf(parent: string): string {
  return `${parent}_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
}

describe('schema structure (upstream e76cd03)', () => {
  it('RANGE-partitions execution_history, audit_event and event with a DEFAULT partition and daily leaves; worker_history stays plain', async () => {
    const res = await db.pool.query(
      `SELECT c.relname, c.relkind, pg_get_partkeydef(c.oid) AS key FROM pg_class c
       WHERE c.relnamespace = 'attune'::regnamespace AND c.relname = ANY($1::text[]) ORDER BY c.relname`,
      [['audit_event', 'event', 'execution_history', 'worker_history']],
    );
    expect(res.rows).toEqual([
      { relname: 'audit_event', relkind: 'p', key: 'RANGE (created)' },
      { relname: 'event', relkind: 'p', key: 'RANGE (created)' },
      { relname: 'execution_history', relkind: 'p', key: 'RANGE (\"time\")' },
      { relname: 'worker_history', relkind: 'r', key: null },
    ]);
    const parts = await db.pool.query(
      `SELECT p.relname AS parent, c.relname AS leaf, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = ANY($1::text[])`,
      [['audit_event', 'event', 'execution_history']],
    );
    for (const parent of ['audit_event', 'event', 'execution_history']) {
      const mine = parts.rows.filter((r: { parent: string }) => r.parent === parent);
      expect(mine).toContainEqual({ parent, leaf: `${parent}_default`, bound: 'DEFAULT' });
      expect(mine.map((r: { leaf: string }) => r.leaf)).toContain(todayLeaf(parent));
      expect(mine).toHaveLength(9); // DEFAULT + today + 7 days
    }
    const registry = await db.pool.query('SELECT parent::text AS parent, count(*)::int AS n FROM native_partition_registry GROUP BY 1 ORDER BY 1');
    expect(registry.rows).toEqual([
      { parent: 'audit_event', n: 8 },
      { parent: 'event', n: 8 },
      { parent: 'execution_history', n: 8 },
    ]);
  });

  it('has the newest enum values', async () => {
    expect(await enumLabels('worker_role_enum')).toEqual(['action', 'sensor']);
    expect(await enumLabels('artifact_body_state_enum')).toEqual(['pending', 'ready', 'deleting', 'cleanup_claimed']);
    expect(await enumLabels('audit_category_enum')).toEqual(['api', 'auth', 'rbac', 'secret', 'admin', 'execution', 'pack']);
    expect(await enumLabels('audit_outcome_enum')).toEqual(['success', 'failure', 'denied']);
    expect(await enumLabels('native_partition_parent')).toEqual(['event', 'execution_history', 'audit_event']);
    expect(await enumLabels('native_summary_kind')).toEqual(['execution_status', 'execution_creation', 'event_volume', 'worker_status']);
  });

  it('drops execution_parent_fkey / execution_enforcement_fkey and has enforcement_rule_fkey and uq_enforcement_rule_event', async () => {
    const cons = await db.pool.query(
      "SELECT conname FROM pg_constraint WHERE connamespace = 'attune'::regnamespace AND conrelid IN ('execution'::regclass, 'enforcement'::regclass) AND contype = 'f' ORDER BY conname",
    );
    expect(cons.rows.map((r: { conname: string }) => r.conname)).toEqual([
      'enforcement_pack_release_fkey', 'enforcement_rule_fkey', 'execution_action_fkey', 'execution_executor_fkey',
      'execution_original_execution_fkey', 'execution_pack_release_fkey', 'execution_worker_fkey',
    ]);
    const idx = await db.pool.query(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = 'attune' AND indexname = 'uq_enforcement_rule_event'",
    );
    expect(idx.rows[0].indexdef).toMatch(/UNIQUE INDEX uq_enforcement_rule_event ON attune\.enforcement USING btree \(rule, event\) WHERE \(\(rule IS NOT NULL\) AND \(event IS NOT NULL\)\)/);
    // A dangling parent/enforcement is now accepted (independent retention).
    await expect(insertExecution({ parent: 987654, enforcement: 876543 })).resolves.toBeGreaterThan(0);
  });

  it('has the newest columns: omission_disabled, managed_release, legacy_snapshot_expires_at, body_updated', async () => {
    const cols = await db.pool.query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = 'attune' AND (table_name, column_name) IN
         (('action', 'omission_disabled'), ('runtime_version', 'managed_release'), ('pack_release', 'legacy_snapshot_expires_at'),
          ('artifact_version', 'body_updated'), ('artifact_version', 'legacy_snapshot_expires_at'))
       ORDER BY table_name, column_name`,
    );
    expect(cols.rows).toEqual([
      { table_name: 'action', column_name: 'omission_disabled', data_type: 'boolean', is_nullable: 'NO', column_default: 'false' },
      { table_name: 'artifact_version', column_name: 'body_updated', data_type: 'timestamp with time zone', is_nullable: 'NO', column_default: 'now()' },
      { table_name: 'artifact_version', column_name: 'legacy_snapshot_expires_at', data_type: 'timestamp with time zone', is_nullable: 'YES', column_default: null },
      { table_name: 'pack_release', column_name: 'legacy_snapshot_expires_at', data_type: 'timestamp with time zone', is_nullable: 'YES', column_default: null },
      { table_name: 'runtime_version', column_name: 'managed_release', data_type: 'bigint', is_nullable: 'YES', column_default: null },
    ]);
    const gen = await db.pool.query(
      "SELECT generation_expression FROM information_schema.columns WHERE table_schema = 'attune' AND table_name = 'action' AND column_name = 'effective_enabled'",
    );
    expect(gen.rows[0].generation_expression).toBe('((NOT omission_disabled) AND COALESCE(enabled_override, enabled))');
    const fk = await db.pool.query(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'runtime_version'::regclass AND contype = 'f' AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = 'runtime_version'::regclass AND attname = 'managed_release')]",
    );
    expect(fk.rows.map((r: { def: string }) => r.def)).toEqual(['FOREIGN KEY (managed_release) REFERENCES pack_release(id) DEFERRABLE INITIALLY DEFERRED']);
  });

  it('installs the upstream triggers on the tables the agent writes, with the right timing and level', async () => {
    const res = await db.pool.query(
      `SELECT c.relname AS tbl, t.tgname AS name, (t.tgtype & 1) = 1 AS per_row
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE NOT t.tgisinternal AND c.relnamespace = 'attune'::regnamespace AND c.relname = ANY($1::text[])
       ORDER BY 1, 2`,
      [['execution', 'execution_history', 'worker', 'worker_history', 'enforcement', 'runtime_version']],
    );
    const got = res.rows.map((r: { tbl: string; name: string; per_row: boolean }) => `${r.tbl}.${r.name}${r.per_row ? '' : ' (statement)'}`);
    for (const expected of [
      'execution.execution_history_trigger',
      'execution.execution_status_changed_notify',
      'execution.trg_audit_execution_lifecycle',
      'execution.workflow_execution_status_changed_notify',
      'execution_history.native_summary_insert (statement)',
      'execution_history.native_summary_update (statement)',
      'execution_history.native_summary_delete (statement)',
      'worker.worker_history_trigger',
      'worker_history.native_summary_insert (statement)',
      'worker_history.native_summary_update (statement)',
      'worker_history.native_summary_delete (statement)',
      'enforcement.enforcement_created_notify',
      'enforcement.enforcement_status_changed_notify',
      'runtime_version.guard_runtime_version_managed_release',
    ]) {
      expect(got).toContain(expected);
    }
  });
});

describe('artifact constraints and triggers (upstream 20250101000025, 20260909000006, 20260912000003)', () => {
  it('enforces the artifact ref / file path grammar on new rows', async () => {
    const ok = await db.pool.query("INSERT INTO artifact (ref, type) VALUES ('execution_1.stdout', 'file_text') RETURNING id");
    const artifactId = Number(ok.rows[0].id);
    for (const bad of ['../x', 'a/b', '.hidden', 'x.', ' x', 'a:b', '']) {
      await expect(db.pool.query("INSERT INTO artifact (ref, type) VALUES ($1, 'file_text')", [bad]), bad).rejects.toMatchObject({ code: '23514' });
    }
    await expect(
      db.pool.query("INSERT INTO artifact_version (artifact, version, file_path) VALUES ($1, 1, 'execution/1/stdout.log')", [artifactId]),
    ).resolves.toBeDefined();
    for (const bad of ['/abs', 'a/../b', 'a//b', 'a/', 'c:x', './a']) {
      await expect(
        db.pool.query('INSERT INTO artifact_version (artifact, version, file_path) VALUES ($1, 2, $2)', [artifactId, bad]),
        bad,
      ).rejects.toMatchObject({ code: '23514' });
    }
  });

  it('stamps body_updated on a body-state change and freezes cleanup_claimed bodies', async () => {
    const a = await db.pool.query("INSERT INTO artifact (ref, type) VALUES ('claimed', 'file_text') RETURNING id");
    const v = await db.pool.query(
      "INSERT INTO artifact_version (artifact, version, body_state, object_key, body_updated) VALUES ($1, 1, 'pending', 'k1', '2000-01-01') RETURNING id",
      [a.rows[0].id],
    );
    const id = v.rows[0].id;
    await db.pool.query("UPDATE artifact_version SET body_state = 'cleanup_claimed' WHERE id = $1", [id]);
    const row = await db.pool.query('SELECT body_state::text, body_updated > now() - interval \'1 minute\' AS fresh FROM artifact_version WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ body_state: 'cleanup_claimed', fresh: true });
    await expect(db.pool.query("UPDATE artifact_version SET body_state = 'pending' WHERE id = $1", [id])).rejects.toThrow(/claimed artifact body cannot transition/);
  });
});

describe('object deletion queue (upstream 20260909000007)', () => {
  it('retention pruning a ready object-backed version queues its exact object version for deletion', async () => {
    const a = await db.pool.query("INSERT INTO artifact (ref, type, retention_policy, retention_limit) VALUES ('pruned', 'file_text', 'versions', 1) RETURNING id");
    const sha = 'cd'.repeat(32);
    const insert = (version: number) =>
      db.pool.query(
        "INSERT INTO artifact_version (artifact, version, body_state, object_key, provider_version, sha256, size_bytes) VALUES ($1, $2, 'ready', $3, 'pv1', $4, 5)",
        [a.rows[0].id, version, `obj/pruned/${version}`, sha],
      );
    await insert(1);
    await insert(2);
    const versions = await db.pool.query('SELECT version FROM artifact_version WHERE artifact = $1', [a.rows[0].id]);
    expect(versions.rows).toEqual([{ version: 2 }]);
    const ledger = await db.pool.query("SELECT object_key, provider_version, object_kind, size_bytes::int, state FROM object_maintenance_ledger WHERE object_key LIKE 'obj/pruned/%'");
    expect(ledger.rows).toEqual([{ object_key: 'obj/pruned/1', provider_version: 'pv1', object_kind: 'artifact', size_bytes: 5, state: 'deletion_pending' }]);
  });
});

describe('triggers firing on the agent’s writes', () => {
  it('running → completed writes history into today’s leaf, two audit events and execution_status invalidations', async () => {
    const id = await insertExecution();
    expect(await markRunning(db.pool, id)).toMatchObject({ claimed: true });
    expect(await completeExecution(db.pool, { id, status: 'failed', result: { exit_code: 1 } })).not.toBeNull();

    const hist = await db.pool.query(
      "SELECT tableoid::regclass::text AS leaf, operation, changed_fields FROM execution_history WHERE entity_id = $1 ORDER BY time, operation",
      [id],
    );
    expect(hist.rows.map((r: { leaf: string }) => r.leaf)).toEqual(Array(3).fill(todayLeaf('execution_history')));
    expect(hist.rows.map((r: { operation: string }) => r.operation)).toEqual(['INSERT', 'UPDATE', 'UPDATE']);

    const audit = await db.pool.query(
      `SELECT tableoid::regclass::text AS leaf, category::text, event_type, outcome::text, resource_type, resource_ref, details, correlation_chain
       FROM audit_event WHERE resource_id = $1 ORDER BY id`,
      [id],
    );
    expect(audit.rows.map((r: { event_type: string; outcome: string }) => `${r.event_type}:${r.outcome}`)).toEqual([
      'execution.scheduled:success', 'execution.started:success', 'execution.failed:failure',
    ]);
    expect(audit.rows[2]).toMatchObject({
      leaf: todayLeaf('audit_event'),
      category: 'execution',
      resource_type: 'execution',
      resource_ref: 'drift.run',
      details: { operation: 'update', old_status: 'running', new_status: 'failed', action_ref: 'drift.run', worker_id: workerId, retry_count: 0 },
      correlation_chain: { execution_id: id },
    });

    const inv = await db.pool.query(
      "SELECT kind::text, count(*)::int AS n FROM native_summary_invalidation WHERE bucket = date_trunc('hour', now(), 'UTC') GROUP BY kind",
    );
    const kinds = Object.fromEntries(inv.rows.map((r: { kind: string; n: number }) => [r.kind, r.n]));
    expect(kinds.execution_status).toBeGreaterThanOrEqual(2);
    expect(kinds.execution_creation).toBeGreaterThanOrEqual(1);
  });

  it('deduplicates invalidations within one transaction (one row per kind and hour)', async () => {
    const a = await insertExecution();
    const b = await insertExecution();
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await markRunning(client, a);
      await markRunning(client, b);
      const xid = await client.query('SELECT pg_current_xact_id()::text AS x');
      await client.query('COMMIT');
      const rows = await db.pool.query(
        "SELECT kind::text FROM native_summary_invalidation WHERE transaction_origin::text = $1",
        [xid.rows[0].x],
      );
      expect(rows.rows).toEqual([{ kind: 'execution_status' }]);
    } finally {
      client.release();
    }
  });

  it('deregistration adds a worker_status invalidation; a heartbeat writes neither history nor invalidation', async () => {
    const count = async (): Promise<[number, number]> => {
      const h = await db.pool.query('SELECT count(*)::int AS n FROM worker_history WHERE entity_id = $1', [workerId]);
      const i = await db.pool.query("SELECT count(*)::int AS n FROM native_summary_invalidation WHERE kind = 'worker_status'");
      return [h.rows[0].n, i.rows[0].n];
    };
    const before = await count();
    expect(await heartbeatWorker(db.pool, workerId)).toBe(true);
    expect(await count()).toEqual(before);
    expect(await deregisterWorker(db.pool, workerId)).toBe(true);
    expect(await count()).toEqual([before[0] + 1, before[1] + 1]);
    await db.pool.query("UPDATE worker SET status = 'active' WHERE id = $1", [workerId]);
  });

  it('notifies workflow_execution_status_changed only for workflow executions', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const got: string[] = [];
      listener.on('notification', (n) => {
        if (n.channel === 'workflow_execution_status_changed') got.push(n.payload ?? '');
      });
      await listener.query('LISTEN workflow_execution_status_changed');
      const plain = await insertExecution();
      const wf = await insertExecution({ workflowDef: 42, parent: 7 });
      await markRunning(db.pool, plain);
      await markRunning(db.pool, wf);
      await listener.query('SELECT 1'); // notifications are delivered before the next result
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toHaveLength(1);
      expect(JSON.parse(got[0]!)).toMatchObject({
        entity_type: 'execution', id: wf, status: 'running', old_status: 'scheduled', workflow_def: 42, parent: 7, action_ref: 'drift.run',
      });
    } finally {
      await listener.end();
    }
  });

  it('reads an omitted action as disabled (effective_enabled)', async () => {
    await db.pool.query('UPDATE action SET omission_disabled = TRUE WHERE id = $1', [actionId]);
    expect((await getAction(db.pool, actionId))?.enabled).toBe(false);
    await db.pool.query('UPDATE action SET omission_disabled = FALSE, enabled_override = NULL WHERE id = $1', [actionId]);
    expect((await getAction(db.pool, actionId))?.enabled).toBe(true);
  });

  it('routes rows outside every daily leaf into the DEFAULT partition instead of failing', async () => {
    await db.pool.query(
      "INSERT INTO execution_history (time, operation, entity_id) VALUES ('2001-02-03T00:00:00Z', 'UPDATE', 1), (now() + interval '30 days', 'UPDATE', 1)",
    );
    const res = await db.pool.query(
      "SELECT count(*)::int AS n FROM ONLY execution_history_default WHERE entity_id = 1",
    );
    expect(res.rows[0].n).toBe(2);
  });

  it('does not serialise two agents finishing executions in the same hour (no shared lock in the summary triggers)', async () => {
    const a = await insertExecution();
    const b = await insertExecution();
    await markRunning(db.pool, a);
    await markRunning(db.pool, b);
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      await first.query('BEGIN');
      await completeExecution(first, { id: a, status: 'completed', result: {} });
      // `first` holds its invalidation and audit rows uncommitted; `second` must not wait on them.
      await second.query('BEGIN');
      await second.query("SET LOCAL lock_timeout = '2s'");
      await second.query("SET LOCAL statement_timeout = '5s'");
      expect(await completeExecution(second, { id: b, status: 'completed', result: {} })).not.toBeNull();
      await second.query('COMMIT');
      await first.query('COMMIT');
    } finally {
      first.release();
      second.release();
    }
  });

  it('rejects the agent’s status update atomically when its role lacks INSERT on audit_event (spec 07 §7.5 privileges)', async () => {
    const role = `attune_agent_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
    try {
      await db.pool.query(`GRANT USAGE ON SCHEMA attune TO ${quoteIdent(role)}`);
      await db.pool.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA attune TO ${quoteIdent(role)}`);
      await db.pool.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA attune TO ${quoteIdent(role)}`);
      await db.pool.query(`REVOKE INSERT ON audit_event FROM ${quoteIdent(role)}`);
      const id = await insertExecution();
      const u = new URL(db.url);
      u.username = role;
      const agent = new pg.Client({ connectionString: u.toString() });
      await agent.connect();
      try {
        await agent.query('SET search_path TO attune, public');
        await expect(markRunning(agent, id)).rejects.toMatchObject({ code: '42501' });
        const row = await db.pool.query('SELECT status::text FROM execution WHERE id = $1', [id]);
        expect(row.rows[0].status).toBe('scheduled');
        // With the grant the same write succeeds and the trigger chain completes.
        await db.pool.query(`GRANT INSERT ON audit_event TO ${quoteIdent(role)}`);
        expect(await markRunning(agent, id)).not.toBeNull();
      } finally {
        await agent.end();
      }
    } finally {
      await db.pool.query(`REVOKE ALL ON ALL TABLES IN SCHEMA attune FROM ${quoteIdent(role)}`).catch(() => {});
      await db.pool.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA attune FROM ${quoteIdent(role)}`).catch(() => {});
      await db.pool.query(`REVOKE ALL ON SCHEMA attune FROM ${quoteIdent(role)}`).catch(() => {});
      await adminQuery(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(() => {});
    }
  });
});
