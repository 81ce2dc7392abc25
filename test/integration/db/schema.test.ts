import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema, SQL_DIR, listSchemaFiles } from '../../../scripts/apply-schema.mjs';
import { createTestDatabase, dropDatabase, randomDatabaseName, testDatabaseUrl, type TestDatabase } from '../../support/db';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe('development schema (scripts/sql)', () => {
  it('starts every file with the DEVELOPMENT/TEST ONLY header', () => {
    for (const f of listSchemaFiles()) {
      expect(f.sql.split('\n')[0]).toBe(
        '-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.',
      );
    }
  });

  it('applies nothing on a second run and records every file with its sha256', async () => {
    const again = await applySchema({ url: db.url });
    expect(again.created).toBe(false);
    expect(again.applied).toEqual([]);
    expect(again.skipped).toEqual(listSchemaFiles().map((f) => f.name));
    const recorded = await db.pool.query('SELECT filename, sha256 FROM attune._agent_dev_migrations ORDER BY filename');
    expect(recorded.rows).toEqual(listSchemaFiles().map((f) => ({ filename: f.name, sha256: f.sha256 })));
  });

  it('refuses an already-applied file whose content changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-sql-'));
    try {
      cpSync(SQL_DIR, dir, { recursive: true });
      const file = join(dir, '0003_actions_workers_executions.sql');
      writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited\n`);
      await expect(applySchema({ url: db.url, sqlDir: dir })).rejects.toThrow(
        /Schema file 0003_actions_workers_executions\.sql changed after it was applied/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serialises concurrent runs on a fresh database (one applies, the other skips)', async () => {
    const name = randomDatabaseName();
    const url = testDatabaseUrl(name);
    try {
      const [a, b] = await Promise.all([applySchema({ url }), applySchema({ url })]);
      expect([...a.applied, ...b.applied].sort()).toEqual(listSchemaFiles().map((f) => f.name));
    } finally {
      await dropDatabase(name);
    }
  });

  it('creates the spec 04 §7 tables in schema attune', async () => {
    const res = await db.pool.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'attune' ORDER BY table_name",
    );
    const tables = res.rows.map((r: { table_name: string }) => r.table_name);
    for (const t of [
      'identity', 'pack', 'pack_release', 'runtime', 'runtime_version', 'action', 'worker', 'execution',
      'enforcement', 'execution_secret_value', 'artifact', 'artifact_version', 'log_stream',
      'platform_catalog_state', 'execution_history', 'worker_history', 'pack_environment',
    ]) {
      expect(tables).toContain(t);
    }
  });

  it('uses the upstream enum values in declaration order', async () => {
    const res = await db.pool.query(
      "SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = 'execution_status_enum'",
    );
    expect(res.rows[0].labels).toEqual([
      'requested', 'scheduling', 'scheduled', 'running', 'completed', 'failed', 'canceling', 'cancelled', 'timeout', 'abandoned',
    ]);
  });

  it('has the named constraints the agent relies on', async () => {
    const res = await db.pool.query(
      "SELECT conname FROM pg_constraint WHERE connamespace = 'attune'::regnamespace AND conname = ANY($1::text[]) ORDER BY conname",
      [['uq_artifact_version_artifact_version', 'ck_artifact_version_object_metadata', 'execution_release_pin_complete',
        'execution_release_digest_sha256', 'runtime_version_unique', 'execution_secret_value_entity_type_entity_id_json_path_key']],
    );
    expect(res.rows.map((r: { conname: string }) => r.conname)).toEqual([
      'ck_artifact_version_object_metadata', 'execution_release_digest_sha256', 'execution_release_pin_complete',
      'execution_secret_value_entity_type_entity_id_json_path_key', 'runtime_version_unique', 'uq_artifact_version_artifact_version',
    ]);
  });

  it('seeds platform_catalog_state (1, 1), the core pack and the platform-owned core runtimes', async () => {
    const state = await db.pool.query('SELECT singleton, compatibility_epoch, revision FROM platform_catalog_state');
    expect(state.rows).toEqual([{ singleton: true, compatibility_epoch: 1, revision: 1 }]);
    const pack = await db.pool.query("SELECT ref FROM pack WHERE ref = 'core'");
    expect(pack.rowCount).toBe(1);
    const rts = await db.pool.query('SELECT ref, name, aliases, management_origin, pack_ref FROM runtime ORDER BY ref');
    expect(rts.rows.map((r: { ref: string }) => r.ref)).toEqual([
      'core.go', 'core.java', 'core.native', 'core.nodejs', 'core.perl', 'core.python', 'core.r', 'core.ruby', 'core.shell',
    ]);
    const shell = rts.rows.find((r: { ref: string }) => r.ref === 'core.shell');
    expect(shell).toMatchObject({ name: 'Shell', aliases: ['shell', 'bash', 'sh'], management_origin: 'platform', pack_ref: 'core' });
    const cfg = await db.pool.query("SELECT execution_config FROM runtime WHERE ref = 'core.python'");
    expect(cfg.rows[0].execution_config.interpreter).toEqual({ binary: 'python3', args: ['-u'], file_extension: '.py' });
  });

  it('rejects changes to platform runtimes outside catalog reconciliation but allows version availability', async () => {
    await expect(db.pool.query("UPDATE runtime SET description = 'x' WHERE ref = 'core.shell'")).rejects.toThrow(
      /platform-owned runtime may only be changed by catalog reconciliation/,
    );
    await expect(db.pool.query("UPDATE runtime_version SET is_default = NOT is_default WHERE runtime_ref = 'core.python' AND version = '3.11'")).rejects.toThrow(
      /platform runtime versions may only be changed/,
    );
    const ok = await db.pool.query(
      "UPDATE runtime_version SET available = false, verified_at = NOW() WHERE runtime_ref = 'core.python' AND version = '3.11'",
    );
    expect(ok.rowCount).toBe(1);
  });

  it('enforces the execution release-pin CHECKs', async () => {
    await expect(
      db.pool.query("INSERT INTO execution (action_ref, pack_release_digest) VALUES ('core.x', repeat('a', 64))"),
    ).rejects.toThrow(/execution_release_pin_complete/);
    await expect(
      db.pool.query("INSERT INTO execution (action_ref, pack_release_digest, executable_snapshot) VALUES ('core.x', 'ABC', '{}')"),
    ).rejects.toThrow(/execution_release_digest_sha256/);
  });

  it('accepts a pending shared-file log version and rejects a ready version without a digest', async () => {
    const art = await db.pool.query(
      "INSERT INTO artifact (ref, scope, owner, type, classification, retention_policy, retention_limit) VALUES ('p.a.stdout.log', 'action', 'p.a', 'file_text', 'runtime_log', 'days', 7) RETURNING id",
    );
    const artifactId = art.rows[0].id;
    const v = await db.pool.query(
      "INSERT INTO artifact_version (artifact, version, execution, content_type, body_state, meta, created_by) VALUES ($1, 1, 1, 'text/plain', 'pending', '{\"stream\": \"stdout\"}', 'worker') RETURNING id",
      [artifactId],
    );
    await db.pool.query("INSERT INTO log_stream (artifact_version, backend, max_unflushed_bytes, max_unflushed_milliseconds) VALUES ($1, 'shared_file', 65536, 1000)", [v.rows[0].id]);
    await expect(
      db.pool.query("INSERT INTO artifact_version (artifact, version, body_state, size_bytes) VALUES ($1, 2, 'ready', 10)", [artifactId]),
    ).rejects.toThrow(/ck_artifact_version_object_metadata/);
    await expect(
      db.pool.query("INSERT INTO artifact_version (artifact, version) VALUES ($1, 1)", [artifactId]),
    ).rejects.toThrow(/uq_artifact_version_artifact_version/);
  });
});
