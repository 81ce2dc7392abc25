import { toDate, toDateOrNull, toId, toIdOrNull, toIntOrNull, toJson, toStringOrNull, type JsonObject, type JsonValue, type RawRow } from '../rows';
import type { WorkerRoleValue, WorkerStatusValue, WorkerTypeValue } from './enums';

/** Every column of `worker` (spec 04 §3.1), in table order. */
export const WORKER_COLUMNS =
  'id, name, worker_type, worker_role, runtime, host, port, status, capabilities, meta, ' +
  'last_heartbeat, cordoned, cordon_reason, cordoned_by, cordoned_at, created, updated';

export interface WorkerRow {
  id: number;
  name: string;
  workerType: WorkerTypeValue;
  workerRole: WorkerRoleValue;
  runtime: number | null;
  host: string | null;
  port: number | null;
  status: WorkerStatusValue;
  capabilities: JsonObject | null;
  meta: JsonValue;
  lastHeartbeat: Date | null;
  cordoned: boolean;
  cordonReason: string | null;
  cordonedBy: number | null;
  cordonedAt: Date | null;
  created: Date;
  updated: Date;
}

export function mapWorkerRow(r: RawRow): WorkerRow {
  const caps = r.capabilities;
  return {
    id: toId(r.id),
    name: String(r.name),
    workerType: r.worker_type as WorkerTypeValue,
    workerRole: r.worker_role as WorkerRoleValue,
    runtime: toIdOrNull(r.runtime),
    host: toStringOrNull(r.host),
    port: toIntOrNull(r.port),
    status: r.status as WorkerStatusValue,
    capabilities: caps !== null && typeof caps === 'object' && !Array.isArray(caps) ? (caps as JsonObject) : null,
    meta: toJson(r.meta),
    lastHeartbeat: toDateOrNull(r.last_heartbeat),
    cordoned: r.cordoned === true,
    cordonReason: toStringOrNull(r.cordon_reason),
    cordonedBy: toIdOrNull(r.cordoned_by),
    cordonedAt: toDateOrNull(r.cordoned_at),
    created: toDate(r.created),
    updated: toDate(r.updated),
  };
}
