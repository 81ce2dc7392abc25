import { describe, expect, it } from 'vitest';
import { AgentError } from '../../../src/errors';
import { createSilentLogger } from '../../../src/log';
import { FIND_WORKER_BY_NAME_SQL } from '../../../src/db/queries/find-worker-by-name';
import { INSERT_WORKER_SQL } from '../../../src/db/queries/insert-worker';
import { UPDATE_WORKER_REGISTRATION_SQL } from '../../../src/db/queries/update-worker-registration';
import type { Queryable, QueryResultLike } from '../../../src/db/rows';
import { registerWorker } from '../../../src/worker/registration';
import type { WorkerIdentity } from '../../../src/worker/capabilities';

const IDENTITY: WorkerIdentity = { name: 'w1', workerType: 'container', workerRole: 'action', runtime: null, host: 'h', port: null };

function rawRow(id: number, extra: Record<string, unknown> = {}) {
  return {
    id: String(id),
    name: 'w1',
    worker_type: 'container',
    worker_role: 'action',
    runtime: null,
    host: 'h',
    port: null,
    status: 'active',
    capabilities: { runtimes: ['native'] },
    meta: null,
    last_heartbeat: new Date(),
    cordoned: false,
    cordon_reason: null,
    cordoned_by: null,
    cordoned_at: null,
    created: new Date(),
    updated: new Date(),
    ...extra,
  };
}

/** Scripted fake: each SQL constant maps to a queue of responses (row arrays or errors). */
function scripted(script: Map<string, (Error | unknown[])[]>) {
  const seen: string[] = [];
  const db: Queryable = {
    async query(sql: string): Promise<QueryResultLike> {
      seen.push(sql);
      const next = script.get(sql)?.shift();
      if (next === undefined) throw new Error(`unexpected query: ${sql.trim().slice(0, 40)}`);
      if (next instanceof Error) throw next;
      return { rows: next, rowCount: next.length };
    },
  };
  return { db, seen };
}

describe('registerWorker (query sequence)', () => {
  it('answers a unique violation from a racing insert by re-reading and updating the winner row', async () => {
    const unique = Object.assign(new Error('duplicate key value violates unique constraint "worker_name_key"'), { code: '23505' });
    const { db, seen } = scripted(
      new Map<string, (Error | unknown[])[]>([
        [FIND_WORKER_BY_NAME_SQL, [[], [rawRow(9)]]],
        [INSERT_WORKER_SQL, [unique]],
        [UPDATE_WORKER_REGISTRATION_SQL, [[rawRow(9)]]],
      ]),
    );
    const row = await registerWorker(db, IDENTITY, { runtimes: ['native'] }, createSilentLogger());
    expect(row.id).toBe(9);
    expect(seen).toEqual([FIND_WORKER_BY_NAME_SQL, INSERT_WORKER_SQL, FIND_WORKER_BY_NAME_SQL, UPDATE_WORKER_REGISTRATION_SQL]);
  });

  it('wraps other failures in a REGISTRATION_FAILED error naming the worker', async () => {
    const { db } = scripted(new Map([[FIND_WORKER_BY_NAME_SQL, [new Error('connection terminated')]]]));
    const err = await registerWorker(db, IDENTITY, {}, createSilentLogger()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('REGISTRATION_FAILED');
    expect((err as AgentError).message).toBe("Cannot register worker 'w1' in PostgreSQL: connection terminated");
  });
});
