import { jsonParam, type JsonObject, type Queryable } from '../rows';
import type { WorkerRoleValue, WorkerTypeValue } from '../models/enums';
import { mapWorkerRow, WORKER_COLUMNS, type WorkerRow } from '../models/worker';

// spec 01 §4.5 step 3: status is always 'active'; last_heartbeat is the worker's clock (spec 04 §4.1).
export const INSERT_WORKER_SQL = `
INSERT INTO worker (name, worker_type, worker_role, runtime, host, port, status, capabilities, last_heartbeat)
VALUES ($1::text, $2::worker_type_enum, $3::worker_role_enum, $4::bigint, $5::text, $6::integer,
        'active', $7::jsonb, $8::timestamptz)
RETURNING ${WORKER_COLUMNS}`;

export interface InsertWorkerInput {
  name: string;
  workerType: WorkerTypeValue;
  workerRole: WorkerRoleValue;
  runtime: number | null;
  host: string | null;
  port: number | null;
  capabilities: JsonObject;
  now: Date;
}

/** Throws pg's unique violation (23505) when another process inserted the same name first. */
export async function insertWorker(db: Queryable, input: InsertWorkerInput): Promise<WorkerRow> {
  const res = await db.query(INSERT_WORKER_SQL, [
    input.name,
    input.workerType,
    input.workerRole,
    input.runtime,
    input.host,
    input.port,
    jsonParam(input.capabilities),
    input.now,
  ]);
  return mapWorkerRow(res.rows[0]);
}
