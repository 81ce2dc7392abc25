/**
 * The database both schema-upstream files run against: the development schema (upstream
 * e76cd03) with one registered worker and one shell action, `drift.run`, to hang executions on.
 * Registers its own beforeAll / afterAll; the fields are set once beforeAll has run.
 */
import { afterAll, beforeAll } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { claimExecution } from '../../../src/db/queries/claim-execution';
import type { Queryable } from '../../../src/db/rows';
import { registerWorker } from '../../../src/worker/registration';
import { createTestDatabase, type TestDatabase } from '../../support/db';

export interface DriftDatabase {
  db: TestDatabase;
  workerId: number;
  actionId: number;
  /** A `scheduled` execution of `drift.run` on the worker. */
  insertExecution(opts?: { workflowDef?: number; parent?: number; enforcement?: number }): Promise<number>;
}

export function useDriftDatabase(): DriftDatabase {
  const fx = {
    workerId: 0,
    actionId: 0,
    async insertExecution(opts: { workflowDef?: number; parent?: number; enforcement?: number } = {}): Promise<number> {
      const res = await fx.db.pool.query(
        `INSERT INTO execution (action, action_ref, status, worker, workflow_def, parent, enforcement)
         VALUES ($1, 'drift.run', 'scheduled', $2, $3, $4, $5) RETURNING id`,
        [fx.actionId, fx.workerId, opts.workflowDef ?? null, opts.parent ?? null, opts.enforcement ?? null],
      );
      return Number(res.rows[0].id);
    },
  } as DriftDatabase;

  beforeAll(async () => {
    fx.db = await createTestDatabase();
    const worker = await registerWorker(
      fx.db.pool,
      { name: 'drift-worker', workerType: 'container', workerRole: 'action', runtime: null, host: 'h', port: null },
      { runtimes: ['shell', 'native'] },
      createSilentLogger(),
    );
    fx.workerId = worker.id;
    const pack = await fx.db.pool.query("INSERT INTO pack (ref, label, version) VALUES ('drift', 'Drift', '1.0.0') RETURNING id");
    const shell = await fx.db.pool.query("SELECT id FROM runtime WHERE ref = 'core.shell'");
    const action = await fx.db.pool.query(
      "INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime) VALUES ('drift.run', $1, 'drift', 'Run', 'run.sh', $2) RETURNING id",
      [pack.rows[0].id, shell.rows[0].id],
    );
    fx.actionId = Number(action.rows[0].id);
  });

  afterAll(async () => {
    await fx.db?.drop();
  });
  return fx;
}

/** The agent's dispatch claim (the statement that marks a row `running`), for an unpinned row. */
export function markRunning(q: Queryable, id: number) {
  return claimExecution(q, { id, releaseId: null, releaseDigest: null });
}

/** Today's daily leaf of a RANGE-partitioned table (upstream's naming). */
export function todayLeaf(parent: string): string {
  return `${parent}_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
}
