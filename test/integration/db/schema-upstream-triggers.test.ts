/**
 * The triggers upstream runs on the agent's writes fire here too (upstream e76cd03, spec 07
 * §7.3–§7.6): history rows routed into daily partitions, the execution audit trail,
 * hourly-summary invalidation, workflow NOTIFY — and the failure and locking behaviour they
 * bring. The schema's structure itself: schema-upstream.test.ts.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { completeExecution } from '../../../src/db/queries/complete-execution';
import { deregisterWorker } from '../../../src/db/queries/deregister-worker';
import { getAction } from '../../../src/db/queries/get-action';
import { heartbeatWorker } from '../../../src/db/queries/heartbeat-worker';
import { adminQuery, quoteIdent } from '../../support/db';
import { markRunning, todayLeaf, useDriftDatabase } from './drift-fixture';

const fx = useDriftDatabase();

describe('triggers firing on the agent’s writes', () => {
  it('running → completed writes history into today’s leaf, two audit events and execution_status invalidations', async () => {
    const id = await fx.insertExecution();
    expect(await markRunning(fx.db.pool, id)).toMatchObject({ claimed: true });
    expect(await completeExecution(fx.db.pool, { id, status: 'failed', result: { exit_code: 1 } })).not.toBeNull();

    const hist = await fx.db.pool.query(
      "SELECT tableoid::regclass::text AS leaf, operation, changed_fields FROM execution_history WHERE entity_id = $1 ORDER BY time, operation",
      [id],
    );
    expect(hist.rows.map((r: { leaf: string }) => r.leaf)).toEqual(Array(3).fill(todayLeaf('execution_history')));
    expect(hist.rows.map((r: { operation: string }) => r.operation)).toEqual(['INSERT', 'UPDATE', 'UPDATE']);

    const audit = await fx.db.pool.query(
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
      details: { operation: 'update', old_status: 'running', new_status: 'failed', action_ref: 'drift.run', worker_id: fx.workerId, retry_count: 0 },
      correlation_chain: { execution_id: id },
    });

    const inv = await fx.db.pool.query(
      "SELECT kind::text, count(*)::int AS n FROM native_summary_invalidation WHERE bucket = date_trunc('hour', now(), 'UTC') GROUP BY kind",
    );
    const kinds = Object.fromEntries(inv.rows.map((r: { kind: string; n: number }) => [r.kind, r.n]));
    expect(kinds.execution_status).toBeGreaterThanOrEqual(2);
    expect(kinds.execution_creation).toBeGreaterThanOrEqual(1);
  });

  it('deduplicates invalidations within one transaction (one row per kind and hour)', async () => {
    const a = await fx.insertExecution();
    const b = await fx.insertExecution();
    const client = await fx.db.pool.connect();
    try {
      await client.query('BEGIN');
      await markRunning(client, a);
      await markRunning(client, b);
      const xid = await client.query('SELECT pg_current_xact_id()::text AS x');
      await client.query('COMMIT');
      const rows = await fx.db.pool.query(
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
      const h = await fx.db.pool.query('SELECT count(*)::int AS n FROM worker_history WHERE entity_id = $1', [fx.workerId]);
      const i = await fx.db.pool.query("SELECT count(*)::int AS n FROM native_summary_invalidation WHERE kind = 'worker_status'");
      return [h.rows[0].n, i.rows[0].n];
    };
    const before = await count();
    expect(await heartbeatWorker(fx.db.pool, fx.workerId)).toBe(true);
    expect(await count()).toEqual(before);
    expect(await deregisterWorker(fx.db.pool, fx.workerId)).toBe(true);
    expect(await count()).toEqual([before[0] + 1, before[1] + 1]);
    await fx.db.pool.query("UPDATE worker SET status = 'active' WHERE id = $1", [fx.workerId]);
  });

  it('notifies workflow_execution_status_changed only for workflow executions', async () => {
    const listener = new pg.Client({ connectionString: fx.db.url });
    await listener.connect();
    try {
      const got: string[] = [];
      listener.on('notification', (n) => {
        if (n.channel === 'workflow_execution_status_changed') got.push(n.payload ?? '');
      });
      await listener.query('LISTEN workflow_execution_status_changed');
      const plain = await fx.insertExecution();
      const wf = await fx.insertExecution({ workflowDef: 42, parent: 7 });
      await markRunning(fx.db.pool, plain);
      await markRunning(fx.db.pool, wf);
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
    await fx.db.pool.query('UPDATE action SET omission_disabled = TRUE WHERE id = $1', [fx.actionId]);
    expect((await getAction(fx.db.pool, fx.actionId))?.enabled).toBe(false);
    await fx.db.pool.query('UPDATE action SET omission_disabled = FALSE, enabled_override = NULL WHERE id = $1', [fx.actionId]);
    expect((await getAction(fx.db.pool, fx.actionId))?.enabled).toBe(true);
  });

  it('routes rows outside every daily leaf into the DEFAULT partition instead of failing', async () => {
    await fx.db.pool.query(
      "INSERT INTO execution_history (time, operation, entity_id) VALUES ('2001-02-03T00:00:00Z', 'UPDATE', 1), (now() + interval '30 days', 'UPDATE', 1)",
    );
    const res = await fx.db.pool.query(
      "SELECT count(*)::int AS n FROM ONLY execution_history_default WHERE entity_id = 1",
    );
    expect(res.rows[0].n).toBe(2);
  });

  it('does not serialise two agents finishing executions in the same hour (no shared lock in the summary triggers)', async () => {
    const a = await fx.insertExecution();
    const b = await fx.insertExecution();
    await markRunning(fx.db.pool, a);
    await markRunning(fx.db.pool, b);
    const first = await fx.db.pool.connect();
    const second = await fx.db.pool.connect();
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
      await fx.db.pool.query(`GRANT USAGE ON SCHEMA attune TO ${quoteIdent(role)}`);
      await fx.db.pool.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA attune TO ${quoteIdent(role)}`);
      await fx.db.pool.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA attune TO ${quoteIdent(role)}`);
      await fx.db.pool.query(`REVOKE INSERT ON audit_event FROM ${quoteIdent(role)}`);
      const id = await fx.insertExecution();
      const u = new URL(fx.db.url);
      u.username = role;
      const agent = new pg.Client({ connectionString: u.toString() });
      await agent.connect();
      try {
        await agent.query('SET search_path TO attune, public');
        await expect(markRunning(agent, id)).rejects.toMatchObject({ code: '42501' });
        const row = await fx.db.pool.query('SELECT status::text FROM execution WHERE id = $1', [id]);
        expect(row.rows[0].status).toBe('scheduled');
        // With the grant the same write succeeds and the trigger chain completes.
        await fx.db.pool.query(`GRANT INSERT ON audit_event TO ${quoteIdent(role)}`);
        expect(await markRunning(agent, id)).not.toBeNull();
      } finally {
        await agent.end();
      }
    } finally {
      await fx.db.pool.query(`REVOKE ALL ON ALL TABLES IN SCHEMA attune FROM ${quoteIdent(role)}`).catch(() => {});
      await fx.db.pool.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA attune FROM ${quoteIdent(role)}`).catch(() => {});
      await fx.db.pool.query(`REVOKE ALL ON SCHEMA attune FROM ${quoteIdent(role)}`).catch(() => {});
      await adminQuery(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(() => {});
    }
  });
});
