// issue 18: the merged dispatch statement and the batched terminal UPDATE write exactly what the
// one-statement-per-step queries write (rows, history, NOTIFY payloads), through named statements.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { claimExecution } from '../../../src/db/queries/claim-execution';
import { completeExecution } from '../../../src/db/queries/complete-execution';
import { completeExecutions } from '../../../src/db/queries/complete-executions';
import { getExecution } from '../../../src/db/queries/get-execution';
import { EXECUTION_COLUMNS, mapExecutionRow, type ExecutionRow } from '../../../src/db/models/execution';
import { upsertExecutionSecretValue } from '../../../src/db/queries/upsert-execution-secret-value';
import { withPreparedStatements } from '../../../src/db/prepared';
import type { Queryable } from '../../../src/db/rows';
import { registerWorker } from '../../../src/worker/registration';
import { TerminalWrites } from '../../../src/worker/terminal-writes';
import { createTestDatabase, type TestDatabase } from '../../support/db';

const DIGEST = 'cd'.repeat(32);

/**
 * The reference: the plain one-step `running` mark the agent used before the claim merged the
 * dispatch's reads into it (same SET, same guard). The claim must write exactly what it writes.
 */
async function markExecutionRunning(id: number, startedAt: Date): Promise<ExecutionRow | null> {
  const res = await db.pool.query(
    `UPDATE execution SET status = 'running', started_at = $2::timestamptz, updated = NOW()
     WHERE id = $1::bigint AND status IN ('requested', 'scheduling', 'scheduled')
     RETURNING ${EXECUTION_COLUMNS}`,
    [id, startedAt],
  );
  return res.rows[0] ? mapExecutionRow(res.rows[0]) : null;
}
let db: TestDatabase;
let q: Queryable;
let workerId: number;
let actionId: number;
let releaseId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  q = withPreparedStatements(db.pool);
  const worker = await registerWorker(
    db.pool,
    { name: 'claim-worker', workerType: 'container', workerRole: 'action', runtime: null, host: 'h', port: null },
    { runtimes: ['shell'] },
    createSilentLogger(),
  );
  workerId = worker.id;
  const pack = await db.pool.query("INSERT INTO pack (ref, label, version) VALUES ('cpack', 'C', '1.0.0') RETURNING id");
  const rel = await db.pool.query(
    "INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest) VALUES ($1, 'cpack', '1.0.0', $2, 'x', 0, '{}') RETURNING id",
    [pack.rows[0].id, DIGEST],
  );
  releaseId = Number(rel.rows[0].id);
  const action = await db.pool.query("INSERT INTO action (ref, pack, pack_ref, label, entrypoint) VALUES ('cpack.run', $1, 'cpack', 'Run', 'run.sh') RETURNING id", [pack.rows[0].id]);
  actionId = Number(action.rows[0].id);
});

afterAll(async () => {
  await db?.drop();
});

async function newEnforcement(): Promise<number> {
  const enf = await db.pool.query("INSERT INTO enforcement (rule_ref, trigger_ref, payload) VALUES ('cpack.rule', 'cpack.trigger', '{}') RETURNING id");
  return Number(enf.rows[0].id);
}

async function insertExecution(status: string, opts: { enforcement?: number; config?: unknown } = {}): Promise<number> {
  const res = await db.pool.query(
    `INSERT INTO execution (action, action_ref, status, worker, pack_release, pack_release_digest, executable_snapshot, config, enforcement)
     VALUES ($1, 'cpack.run', $2::execution_status_enum, $3, $4, $5, '{"release": {}}'::jsonb, $6::jsonb, $7) RETURNING id`,
    [actionId, status, workerId, releaseId, DIGEST, JSON.stringify(opts.config === undefined ? { a: 1 } : opts.config), opts.enforcement ?? null],
  );
  return Number(res.rows[0].id);
}

async function history(id: number): Promise<unknown[]> {
  const r = await db.pool.query('SELECT operation, changed_fields, new_values - \'updated\' AS v FROM execution_history WHERE entity_id = $1 ORDER BY time', [id]);
  return r.rows.map((x) => ({ operation: x.operation, changed: x.changed_fields, status: x.v?.status }));
}

async function listen(channel: string, fn: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  const payloads: Record<string, unknown>[] = [];
  listener.on('notification', (n) => payloads.push(JSON.parse(n.payload ?? '{}') as Record<string, unknown>));
  await listener.query(`LISTEN ${channel}`);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 150));
  } finally {
    await listener.end();
  }
  return payloads;
}

describe('claimExecution', () => {
  it('marks running like markExecutionRunning (row, history, NOTIFY) and returns the secret rows and enforcement refs', async () => {
    const a = await insertExecution('scheduled', { enforcement: await newEnforcement() });
    const b = await insertExecution('scheduled', { enforcement: await newEnforcement() });
    const base = { entityType: 'execution_config', sourceKind: 'secret', sourceRef: null, encryptionKeyHash: 'h' } as const;
    await upsertExecutionSecretValue(db.pool, { ...base, entityId: a, jsonPath: '/z', encryptedValue: 'Wg==' });
    await upsertExecutionSecretValue(db.pool, { ...base, entityId: a, jsonPath: '/b', encryptedValue: 'Yg==' });
    await upsertExecutionSecretValue(db.pool, { ...base, entityType: 'execution_result', entityId: a, jsonPath: '/r', encryptedValue: 'cg==' });
    const startedAt = new Date('2026-01-02T03:04:05.678Z');
    const got: { claim?: Awaited<ReturnType<typeof claimExecution>>; marked?: Awaited<ReturnType<typeof markExecutionRunning>> } = {};
    const payloads = await listen('execution_status_changed', async () => {
      got.claim = await claimExecution(q, { id: a, releaseId, releaseDigest: DIGEST, startedAt });
      got.marked = await markExecutionRunning(b, startedAt);
    });
    const { claim, marked } = got;
    expect(claim).toMatchObject({ claimed: true, previousStatus: 'scheduled', enforcement: { ruleRef: 'cpack.rule', triggerRef: 'cpack.trigger' } });
    if (!claim?.claimed || !marked) throw new Error('not claimed');
    const c = claim;
    expect(c.secretRows.map((r) => [r.entityType, r.entityId, r.jsonPath, r.encryptedValue])).toEqual([
      ['execution_config', a, '/b', 'Yg=='],
      ['execution_config', a, '/z', 'Wg=='],
    ]);
    expect(c.secretRows[0]?.created).toBeInstanceOf(Date);
    const { id: _ida, created: _ca, updated: _ua, enforcement: _ea, ...claimedRow } = c.row;
    const { id: _idb, created: _cb, updated: _ub, enforcement: _eb, ...markedRow } = marked;
    expect(claimedRow).toEqual(markedRow);
    expect(c.row.status).toBe('running');
    expect(c.row.startedAt?.toISOString()).toBe(startedAt.toISOString());
    expect(await history(a)).toEqual(await history(b));
    const strip = (p: Record<string, unknown>) => Object.keys(p).sort();
    const pa = payloads.filter((p) => JSON.stringify(p).includes(`"id":${a}`));
    const pb = payloads.filter((p) => JSON.stringify(p).includes(`"id":${b}`));
    expect(pa).toHaveLength(1);
    expect(pa.map(strip)).toEqual(pb.map(strip));
  });

  it('does not change the row when the release differs, it is canceling or already running; null when missing', async () => {
    const stale = await insertExecution('scheduled');
    const r1 = await claimExecution(q, { id: stale, releaseId: releaseId + 1000, releaseDigest: DIGEST });
    expect(r1).toMatchObject({ claimed: false, row: { id: stale, status: 'scheduled', startedAt: null } });
    const r2 = await claimExecution(q, { id: stale, releaseId, releaseDigest: 'ef'.repeat(32) });
    expect(r2).toMatchObject({ claimed: false, row: { status: 'scheduled' } });
    const canceling = await insertExecution('canceling');
    expect(await claimExecution(q, { id: canceling, releaseId, releaseDigest: DIGEST })).toMatchObject({ claimed: false, row: { status: 'canceling' } });
    const once = await insertExecution('requested', { config: null });
    const first = await claimExecution(q, { id: once, releaseId, releaseDigest: DIGEST });
    expect(first).toMatchObject({ claimed: true, previousStatus: 'requested', secretRows: [], enforcement: null });
    expect(await claimExecution(q, { id: once, releaseId, releaseDigest: DIGEST })).toMatchObject({ claimed: false, row: { status: 'running' } });
    expect(await claimExecution(q, { id: 987654321, releaseId, releaseDigest: DIGEST })).toBeNull();
    expect((await getExecution(db.pool, stale))?.status).toBe('scheduled');
  });

  it('lets exactly one of many concurrent claims of one execution through', async () => {
    const id = await insertExecution('scheduled');
    const results = await Promise.all(Array.from({ length: 8 }, () => claimExecution(q, { id, releaseId, releaseDigest: DIGEST })));
    expect(results.filter((r) => r?.claimed)).toHaveLength(1);
  });
});

describe('completeExecutions (batched terminal UPDATE)', () => {
  it('writes each row as completeExecution does, skips rows that are not open, stores null as SQL NULL', async () => {
    const ids = await Promise.all([insertExecution('running'), insertExecution('running'), insertExecution('completed'), insertExecution('canceling')]);
    const single = await insertExecution('running');
    const result = { exit_code: 0, succeeded: true, stdout: 'a"b\\c\u00e9\n' };
    let rows: Map<number, unknown> = new Map();
    const payloads = await listen('execution_status_changed', async () => {
      rows = await completeExecutions(q, [
        { id: ids[0] as number, status: 'completed', result },
        { id: ids[1] as number, status: 'failed', result: null },
        { id: ids[2] as number, status: 'failed', result: { no: true } },
        { id: ids[3] as number, status: 'cancelled', result: { succeeded: false } },
      ]);
      await completeExecution(db.pool, { id: single, status: 'completed', result });
    });
    expect([...rows.keys()].sort()).toEqual([ids[0], ids[1], ids[3]].sort());
    expect(rows.get(ids[0] as number)).toMatchObject({ status: 'completed', result: null });
    const stored = await db.pool.query('SELECT id, status::text, result, result IS NULL AS is_null FROM execution WHERE id = ANY($1::bigint[]) ORDER BY id', [[...ids, single]]);
    const by = new Map(stored.rows.map((r) => [Number(r.id), r]));
    expect(by.get(ids[0] as number)).toMatchObject({ status: 'completed', result });
    expect(by.get(ids[1] as number)).toMatchObject({ status: 'failed', is_null: true });
    expect(by.get(ids[2] as number)).toMatchObject({ status: 'completed', result: null });
    expect(by.get(ids[3] as number)).toMatchObject({ status: 'cancelled', result: { succeeded: false } });
    expect(by.get(single)).toMatchObject({ status: 'completed', result });
    expect(await history(ids[0] as number)).toEqual(await history(single));
    // One NOTIFY per written row, same shape as the single-row UPDATE's.
    const keysOf = (id: number) => payloads.filter((p) => JSON.stringify(p).includes(`"id":${id}`)).map((p) => Object.keys(p).sort());
    expect(keysOf(ids[0] as number)).toEqual(keysOf(single));
    expect(keysOf(ids[2] as number)).toEqual([]);
  });

  it('TerminalWrites batches writes that arrive while one is in flight and isolates a result PostgreSQL rejects', async () => {
    const sent: string[] = [];
    const counting: Queryable = { query: (text, values) => (sent.push(text.includes('unnest') ? 'batch' : 'single'), q.query(text, values)) };
    const writes = new TerminalWrites(counting);
    const good = await Promise.all(Array.from({ length: 6 }, () => insertExecution('running')));
    const rows = await Promise.all(good.map((id, i) => writes.complete({ id, status: 'completed', result: { i } })));
    expect(rows.map((r) => r?.id)).toEqual(good);
    // The first goes alone at once (no wait at concurrency 1), the five behind it together.
    expect(sent).toEqual(['single', 'batch']);

    sent.length = 0;
    const ids = await Promise.all(Array.from({ length: 6 }, () => insertExecution('running')));
    const outcomes = await Promise.allSettled(
      ids.map((id, i) =>
        // \u0000 cannot be stored in jsonb: only that execution's write fails.
        writes.complete({ id, status: 'completed', result: i === 3 ? { bad: '\u0000' } : { i } }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(sent).toEqual(['single', 'batch', 'single', 'single', 'single', 'single', 'single']);
    const stored = await db.pool.query('SELECT id, status::text, result FROM execution WHERE id = ANY($1::bigint[])', [ids]);
    const byId = new Map(stored.rows.map((r) => [Number(r.id), [r.status, r.result]]));
    expect(ids.map((id) => byId.get(id))).toEqual(ids.map((_, i) => (i === 3 ? ['running', null] : ['completed', { i }])));
  });
});
