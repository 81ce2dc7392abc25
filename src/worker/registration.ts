/**
 * Worker registration in PostgreSQL (spec 01 §4.5, §4.6, §7.2).
 */
import { DbError, toError } from '../errors';
import type { Logger } from '../log';
import { deregisterWorker as deregisterWorkerQuery } from '../db/queries/deregister-worker';
import { findWorkerByName } from '../db/queries/find-worker-by-name';
import { insertWorker } from '../db/queries/insert-worker';
import { updateWorkerRegistration } from '../db/queries/update-worker-registration';
import type { WorkerRow } from '../db/models/worker';
import { sqlState, SQLSTATE_UNIQUE_VIOLATION, type JsonObject, type Queryable } from '../db/rows';
import { childWith } from '../util/log-bindings';
import type { Capabilities, WorkerIdentity } from './capabilities';

/**
 * Upsert the worker row and return it (its `id` names the worker's queues).
 *
 * spec 01 §4.5: latest row by name → UPDATE (`status='active'`, `last_heartbeat`, `host`,
 * `port`, `capabilities`; type/role/runtime/cordon/meta untouched, so the id is stable
 * across restarts) or INSERT. Improvement over upstream: when a racing agent inserts the
 * same name between our lookup and our INSERT, the unique violation is answered by reading
 * the winner's row once and updating it, instead of failing start-up.
 *
 * Throws `DbError` (`REGISTRATION_FAILED`); registration failure is fatal.
 */
export async function registerWorker(
  db: Queryable,
  identity: WorkerIdentity,
  capabilities: Capabilities,
  log: Logger,
  now: () => Date = () => new Date(),
): Promise<WorkerRow> {
  const caps = capabilities as JsonObject;
  try {
    const existing = await findWorkerByName(db, identity.name);
    if (existing) return await reuse(db, existing, identity, caps, log, now());

    try {
      const row = await insertWorker(db, {
        name: identity.name,
        workerType: identity.workerType,
        workerRole: identity.workerRole,
        runtime: identity.runtime,
        host: identity.host,
        port: identity.port,
        capabilities: caps,
        now: now(),
      });
      log.info({ workerId: row.id, workerName: row.name }, 'worker registered');
      return row;
    } catch (e) {
      if (sqlState(e) !== SQLSTATE_UNIQUE_VIOLATION) throw e;
      const winner = await findWorkerByName(db, identity.name);
      if (!winner) throw e;
      log.warn({ workerName: identity.name, workerId: winner.id }, 'another process registered this worker name concurrently; sharing its row');
      return await reuse(db, winner, identity, caps, log, now());
    }
  } catch (e) {
    if (e instanceof DbError) throw e;
    const err = toError(e);
    throw new DbError(`Cannot register worker '${identity.name}' in PostgreSQL: ${err.message}`, {
      code: 'REGISTRATION_FAILED',
      cause: err,
    });
  }
}

async function reuse(
  db: Queryable,
  existing: WorkerRow,
  identity: WorkerIdentity,
  caps: JsonObject,
  log: Logger,
  now: Date,
): Promise<WorkerRow> {
  if (existing.workerType !== identity.workerType || existing.workerRole !== identity.workerRole) {
    // Upstream keeps the stored type/role on re-registration; say so rather than silently differ.
    log.info(
      { workerId: existing.id, storedType: existing.workerType, storedRole: existing.workerRole, wantedType: identity.workerType },
      'existing worker row keeps its stored worker_type/worker_role',
    );
  }
  const row = await updateWorkerRegistration(db, { id: existing.id, host: identity.host, port: identity.port, capabilities: caps, now });
  if (!row) {
    throw new DbError(`Cannot register worker '${identity.name}': its row (id ${existing.id}) disappeared during registration`, {
      code: 'REGISTRATION_FAILED',
    });
  }
  log.info({ workerId: row.id, workerName: row.name, cordoned: row.cordoned }, 'worker re-registered');
  return row;
}

/**
 * spec 01 §7.2 step 1: mark the worker `inactive`. Never throws — a failure is logged and
 * shutdown continues. Stop the heartbeat first (`await heartbeat.stop()`), otherwise a tick
 * landing afterwards flips the row back to `active` (upstream race, spec 01 §6).
 */
export async function deregisterWorker(db: Queryable, workerId: number, parentLog: Logger): Promise<boolean> {
  const log = childWith(parentLog, { workerId });
  try {
    const found = await deregisterWorkerQuery(db, workerId);
    if (found) log.info('worker deregistered');
    else log.warn('worker row not found while deregistering');
    return found;
  } catch (e) {
    log.warn({ err: toError(e) }, 'deregistering worker failed');
    return false;
  }
}
