/**
 * Start-up of the built agent on the newest contract: catalog order on a fresh Attune database
 * (spec 07 §7.2) and Worker (fallback) mode's eager version verification and coordinated
 * environments (spec 07 §5.1–§5.3), against Agent mode, which defers both (§5.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, pollUntil, type AgentTestEnv } from '../../support/agent';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { createFakeBinDir } from '../../support/fake-bin';

let e: AgentTestEnv;

beforeAll(async () => {
  e = await createAgentTestEnv();
});
afterAll(async () => {
  await e?.cleanup();
});

/** Columns of `table` that can be inserted (generated ones excluded). */
async function insertableColumns(db: TestDatabase, table: string): Promise<string> {
  const cols = await db.pool.query(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = 'attune' AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`,
    [table],
  );
  return cols.rows.map((r) => `"${String(r.column_name)}"`).join(', ');
}

/** As a fresh database before the API's reconcile: no catalog runtimes, revision 0. Returns "reconcile". */
async function unreconcile(db: TestDatabase): Promise<() => Promise<void>> {
  const rtCols = await insertableColumns(db, 'runtime');
  const rvCols = await insertableColumns(db, 'runtime_version');
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query("SELECT set_config('attune.catalog_write', 'on', true)");
    await c.query(`CREATE TABLE public.saved_runtime AS SELECT ${rtCols} FROM runtime WHERE catalog_revision IS NOT NULL`);
    await c.query(`CREATE TABLE public.saved_runtime_version AS SELECT ${rvCols} FROM runtime_version WHERE runtime IN (SELECT id FROM runtime WHERE catalog_revision IS NOT NULL)`);
    // The seed stands for an earlier reconcile; its guard triggers forbid deleting platform
    // rows at all, so they are bypassed for this set-up only (superuser test database).
    await c.query('SET LOCAL session_replication_role = replica');
    await c.query('DELETE FROM runtime_version WHERE runtime IN (SELECT id FROM runtime WHERE catalog_revision IS NOT NULL)');
    await c.query('DELETE FROM runtime WHERE catalog_revision IS NOT NULL');
    await c.query('SET LOCAL session_replication_role = DEFAULT');
    await c.query('UPDATE platform_catalog_state SET revision = 0');
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  return async () => {
    const r = await db.pool.connect();
    try {
      await r.query('BEGIN');
      await r.query("SELECT set_config('attune.catalog_write', 'on', true)");
      await r.query(`INSERT INTO runtime (${rtCols}) SELECT ${rtCols} FROM public.saved_runtime`);
      await r.query(`INSERT INTO runtime_version (${rvCols}) SELECT ${rvCols} FROM public.saved_runtime_version`);
      await r.query('UPDATE platform_catalog_state SET revision = 1');
      await r.query('COMMIT');
    } finally {
      r.release();
    }
  };
}

describe('catalog order: the agent started before the platform catalog exists (spec 07 §7.2)', () => {
  let fresh: TestDatabase;
  afterAll(async () => {
    await fresh?.drop();
  });

  it('waits for the reconcile, then registers with core.* runtimes and creates no auto.* rows', async () => {
    fresh = await createTestDatabase();
    // Worker ids must not collide with the other database's in the shared vhost (queue names).
    await fresh.pool.query("SELECT setval(pg_get_serial_sequence('worker', 'id'), 100000)");
    const reconcile = await unreconcile(fresh);
    expect((await fresh.pool.query('SELECT count(*)::int AS n FROM runtime')).rows[0].n).toBe(0);

    const name = e.uniqueName('e2e-catalog');
    const agent = e.spawnAgent({ name, env: { ATTUNE__DATABASE__URL: fresh.url } });
    try {
      await agent.waitForLog((l) => String(l.msg).startsWith('waiting for the Attune API to reconcile the platform catalog'), 30_000);
      // Meanwhile: no runtime rows invented, no worker registered.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await fresh.pool.query('SELECT count(*)::int AS n FROM runtime')).rows[0].n).toBe(0);
      expect((await fresh.pool.query('SELECT count(*)::int AS n FROM worker WHERE name = $1', [name])).rows[0].n).toBe(0);
      expect(agent.isAlive()).toBe(true);

      await reconcile();
      const workerId = await agent.ready(30_000);
      const refs = (await fresh.pool.query('SELECT ref FROM runtime ORDER BY ref')).rows.map((r) => String(r.ref));
      expect(refs.filter((r) => r.startsWith('auto.'))).toEqual([]);
      expect(refs).toContain('core.shell');
      const built = agent.findLogs((l) => l.msg === 'runtime registry built')[0];
      expect(built?.runtimes).toContain('shell');
      const worker = (await fresh.pool.query('SELECT status FROM worker WHERE id = $1', [workerId])).rows[0];
      expect(worker?.status).toBe('active');
    } finally {
      await agent.stop();
    }
  });

  it('a pre-catalog database (no platform_catalog_state) is not waited for: dynamic registration inserts auto.* rows, as upstream', async () => {
    // A pre-catalog database (no platform_catalog_state): nothing to wait for, dynamic
    // registration runs at once, as upstream.
    const db = await createTestDatabase();
    try {
      await db.pool.query("SELECT setval(pg_get_serial_sequence('worker', 'id'), 200000)");
      await unreconcile(db);
      await db.pool.query('DROP TABLE platform_catalog_state');
      const agent = e.spawnAgent({ name: e.uniqueName('e2e-precatalog'), env: { ATTUNE__DATABASE__URL: db.url } });
      try {
        await agent.ready(30_000);
        const refs = (await db.pool.query('SELECT ref FROM runtime ORDER BY ref')).rows.map((r) => String(r.ref));
        expect(refs).toContain('auto.shell');
      } finally {
        await agent.stop();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('Worker (fallback) mode vs Agent mode start-up (spec 07 §5)', () => {
  it('Agent mode verifies no runtime_version rows at start-up', async () => {
    const { agent } = await e.startAgent({ name: e.uniqueName('e2e-agentmode') });
    try {
      expect(agent.findLogs((l) => l.msg === 'Agent mode: deferring environment setup and version verification to first use')).toHaveLength(1);
      const verified = (await e.cp.query('SELECT count(*)::int AS n FROM runtime_version WHERE verified_at IS NOT NULL')).rows[0];
      expect(verified?.n).toBe(0);
    } finally {
      await agent.stop();
    }
  });

  it('Worker mode verifies the filtered versions and builds the demo pack environment with a pack_environment row', async () => {
    // `python3` names no detected runtime by canonical name → no runtime list → Worker mode;
    // as a filter it alias-matches python (spec 01 §3.4, §3.7).
    const { agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-workermode'), env: { ATTUNE_WORKER_RUNTIMES: 'python3' }, readyTimeoutMs: 120_000 });
    try {
      const summary = agent.findLogs((l) => String(l.msg).startsWith('Runtime version verification complete:'))[0];
      expect(summary?.checked).toBe(3);
      const rows = (await e.cp.query('SELECT runtime_ref, version, available, verified_at FROM runtime_version ORDER BY runtime_ref, version')).rows;
      for (const r of rows) {
        if (r.runtime_ref === 'core.python') expect(r.verified_at).not.toBeNull();
        else expect(r.verified_at).toBeNull();
      }
      const caps = (await e.cp.query('SELECT capabilities FROM worker WHERE id = $1', [workerId])).rows[0]?.capabilities;
      const availablePython = rows.filter((r) => r.runtime_ref === 'core.python' && r.available).map((r) => String(r.version));
      expect([...(caps?.runtime_versions?.python ?? [])].sort()).toEqual(availablePython.sort());

      const envs = await pollUntil(async () => {
        const r = (await e.cp.query("SELECT * FROM pack_environment WHERE pack_ref = 'demo_test' AND runtime_ref = 'core.python'")).rows;
        return r.length > 0 ? r : undefined;
      }, 10_000, 'pack_environment row for demo_test/core.python');
      expect(envs[0]).toMatchObject({ status: 'ready', claimed_by_worker: null, install_error: null });
      expect(agent.findLogs((l) => String(l.msg).startsWith('Environment startup scan completed:'))).toHaveLength(1);
    } finally {
      await agent.stop();
    }
  });
});

describe('start-up order', () => {
  it('probes the runtimes and connects to RabbitMQ while the database is connected and checked, and registers with what they found', async () => {
    // A wrapper script that takes 1 s, like a slow pyenv shim; the rest of PATH as usual.
    const bin = createFakeBinDir();
    const python = bin.add('python3', '/bin/sleep 1\necho Python 3.12.1');
    try {
      const { agent } = await e.startAgent({ name: e.uniqueName('e2e-overlap'), env: { PATH: `${bin.dir}:${process.env.PATH ?? ''}` } });
      try {
        const at = (msg: string): number => agent.logs.findIndex((l) => l.msg === msg);
        expect(at('database ready')).toBeGreaterThanOrEqual(0);
        expect(at('runtime detection finished')).toBeGreaterThan(at('database ready'));
        // The broker connection and its common infrastructure do not wait for the probes (issue 18).
        expect(at('connected to RabbitMQ')).toBeGreaterThanOrEqual(0);
        expect(at('connected to RabbitMQ')).toBeLessThan(at('runtime detection finished'));
        expect(at('runtime registry built')).toBeGreaterThan(at('runtime detection finished'));
        const finished = agent.logs[at('runtime detection finished')];
        expect(finished?.runtimes).toContain(`python (${python}, v3.12.1)`);
      } finally {
        await agent.stop();
      }
    } finally {
      bin.remove();
    }
  });
});
