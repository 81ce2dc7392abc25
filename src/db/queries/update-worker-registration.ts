import { jsonParam, type JsonObject, type Queryable } from '../rows';
import { mapWorkerRow, WORKER_COLUMNS, type WorkerRow } from '../models/worker';

// spec 01 §4.5 step 2: re-registration keeps the id (stable queue names) and leaves
// worker_type, worker_role, runtime, meta and the operator's cordon fields untouched.
export const UPDATE_WORKER_REGISTRATION_SQL = `
UPDATE worker
SET status = 'active',
    last_heartbeat = $2::timestamptz,
    host = $3::text,
    port = $4::integer,
    capabilities = $5::jsonb,
    updated = $2::timestamptz
WHERE id = $1::bigint
RETURNING ${WORKER_COLUMNS}`;

export interface UpdateWorkerRegistrationInput {
  id: number;
  host: string | null;
  port: number | null;
  capabilities: JsonObject;
  now: Date;
}

/** Returns null when the row vanished (deleted by an operator in between). */
export async function updateWorkerRegistration(
  db: Queryable,
  input: UpdateWorkerRegistrationInput,
): Promise<WorkerRow | null> {
  const res = await db.query(UPDATE_WORKER_REGISTRATION_SQL, [
    input.id,
    input.now,
    input.host,
    input.port,
    jsonParam(input.capabilities),
  ]);
  return res.rows[0] ? mapWorkerRow(res.rows[0]) : null;
}
