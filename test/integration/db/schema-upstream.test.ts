/**
 * The development schema matches upstream's newest migrations (e76cd03) where the agent
 * touches it (spec 07 §7.3–§7.6): partitions, enums, constraints, columns and triggers, and
 * the artifact rules and deletion queue they bring. What the triggers do on the agent's own
 * writes: schema-upstream-triggers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { todayLeaf, useDriftDatabase } from './drift-fixture';

const fx = useDriftDatabase();

async function enumLabels(type: string): Promise<string[]> {
  const res = await fx.db.pool.query(
    'SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = $1',
    [type],
  );
  return res.rows[0].labels;
}

describe('schema structure (upstream e76cd03)', () => {
  it('RANGE-partitions execution_history, audit_event and event with a DEFAULT partition and daily leaves; worker_history stays plain', async () => {
    const res = await fx.db.pool.query(
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
    const parts = await fx.db.pool.query(
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
    const registry = await fx.db.pool.query('SELECT parent::text AS parent, count(*)::int AS n FROM native_partition_registry GROUP BY 1 ORDER BY 1');
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
    const cons = await fx.db.pool.query(
      "SELECT conname FROM pg_constraint WHERE connamespace = 'attune'::regnamespace AND conrelid IN ('execution'::regclass, 'enforcement'::regclass) AND contype = 'f' ORDER BY conname",
    );
    expect(cons.rows.map((r: { conname: string }) => r.conname)).toEqual([
      'enforcement_pack_release_fkey', 'enforcement_rule_fkey', 'execution_action_fkey', 'execution_executor_fkey',
      'execution_original_execution_fkey', 'execution_pack_release_fkey', 'execution_worker_fkey',
    ]);
    const idx = await fx.db.pool.query(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = 'attune' AND indexname = 'uq_enforcement_rule_event'",
    );
    expect(idx.rows[0].indexdef).toMatch(/UNIQUE INDEX uq_enforcement_rule_event ON attune\.enforcement USING btree \(rule, event\) WHERE \(\(rule IS NOT NULL\) AND \(event IS NOT NULL\)\)/);
    // A dangling parent/enforcement is now accepted (independent retention).
    await expect(fx.insertExecution({ parent: 987654, enforcement: 876543 })).resolves.toBeGreaterThan(0);
  });

  it('has the newest columns: omission_disabled, managed_release, legacy_snapshot_expires_at, body_updated', async () => {
    const cols = await fx.db.pool.query(
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
    const gen = await fx.db.pool.query(
      "SELECT generation_expression FROM information_schema.columns WHERE table_schema = 'attune' AND table_name = 'action' AND column_name = 'effective_enabled'",
    );
    expect(gen.rows[0].generation_expression).toBe('((NOT omission_disabled) AND COALESCE(enabled_override, enabled))');
    const fk = await fx.db.pool.query(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'runtime_version'::regclass AND contype = 'f' AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = 'runtime_version'::regclass AND attname = 'managed_release')]",
    );
    expect(fk.rows.map((r: { def: string }) => r.def)).toEqual(['FOREIGN KEY (managed_release) REFERENCES pack_release(id) DEFERRABLE INITIALLY DEFERRED']);
  });

  it('installs the upstream triggers on the tables the agent writes, with the right timing and level', async () => {
    const res = await fx.db.pool.query(
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
    const ok = await fx.db.pool.query("INSERT INTO artifact (ref, type) VALUES ('execution_1.stdout', 'file_text') RETURNING id");
    const artifactId = Number(ok.rows[0].id);
    for (const bad of ['../x', 'a/b', '.hidden', 'x.', ' x', 'a:b', '']) {
      await expect(fx.db.pool.query("INSERT INTO artifact (ref, type) VALUES ($1, 'file_text')", [bad]), bad).rejects.toMatchObject({ code: '23514' });
    }
    await expect(
      fx.db.pool.query("INSERT INTO artifact_version (artifact, version, file_path) VALUES ($1, 1, 'execution/1/stdout.log')", [artifactId]),
    ).resolves.toBeDefined();
    for (const bad of ['/abs', 'a/../b', 'a//b', 'a/', 'c:x', './a']) {
      await expect(
        fx.db.pool.query('INSERT INTO artifact_version (artifact, version, file_path) VALUES ($1, 2, $2)', [artifactId, bad]),
        bad,
      ).rejects.toMatchObject({ code: '23514' });
    }
  });

  it('stamps body_updated on a body-state change and freezes cleanup_claimed bodies', async () => {
    const a = await fx.db.pool.query("INSERT INTO artifact (ref, type) VALUES ('claimed', 'file_text') RETURNING id");
    const v = await fx.db.pool.query(
      "INSERT INTO artifact_version (artifact, version, body_state, object_key, body_updated) VALUES ($1, 1, 'pending', 'k1', '2000-01-01') RETURNING id",
      [a.rows[0].id],
    );
    const id = v.rows[0].id;
    await fx.db.pool.query("UPDATE artifact_version SET body_state = 'cleanup_claimed' WHERE id = $1", [id]);
    const row = await fx.db.pool.query('SELECT body_state::text, body_updated > now() - interval \'1 minute\' AS fresh FROM artifact_version WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ body_state: 'cleanup_claimed', fresh: true });
    await expect(fx.db.pool.query("UPDATE artifact_version SET body_state = 'pending' WHERE id = $1", [id])).rejects.toThrow(/claimed artifact body cannot transition/);
  });
});

describe('object deletion queue (upstream 20260909000007)', () => {
  it('retention pruning a ready object-backed version queues its exact object version for deletion', async () => {
    const a = await fx.db.pool.query("INSERT INTO artifact (ref, type, retention_policy, retention_limit) VALUES ('pruned', 'file_text', 'versions', 1) RETURNING id");
    const sha = 'cd'.repeat(32);
    const insert = (version: number) =>
      fx.db.pool.query(
        "INSERT INTO artifact_version (artifact, version, body_state, object_key, provider_version, sha256, size_bytes) VALUES ($1, $2, 'ready', $3, 'pv1', $4, 5)",
        [a.rows[0].id, version, `obj/pruned/${version}`, sha],
      );
    await insert(1);
    await insert(2);
    const versions = await fx.db.pool.query('SELECT version FROM artifact_version WHERE artifact = $1', [a.rows[0].id]);
    expect(versions.rows).toEqual([{ version: 2 }]);
    const ledger = await fx.db.pool.query("SELECT object_key, provider_version, object_kind, size_bytes::int, state FROM object_maintenance_ledger WHERE object_key LIKE 'obj/pruned/%'");
    expect(ledger.rows).toEqual([{ object_key: 'obj/pruned/1', provider_version: 'pv1', object_kind: 'artifact', size_bytes: 5, state: 'deletion_pending' }]);
  });
});
