import { toDate, toDateOrNull, toId, toIdOrNull, toJson, toStringOrNull, type JsonValue, type RawRow } from '../rows';

/** Worker select list of `pack_install` (spec 07 §1.5, upstream `repositories/pack_install.rs`). */
export const PACK_INSTALL_COLUMNS =
  'id, pack_ref, pack_version, status, trigger_reason, pack_id, requested_by, assigned_worker_id, ' +
  'candidate_access_token_hash, test_execution_id, test_result, error_message, started_at, updated_at, finished_at';

/** `pack_install.status` CHECK values (spec 07 §1.5). */
export type PackInstallStatus = 'pending' | 'running' | 'activating' | 'succeeded' | 'failed' | 'rolled_back';

export interface PackInstallRow {
  id: number;
  packRef: string;
  packVersion: string;
  status: string;
  triggerReason: string;
  packId: number | null;
  requestedBy: number | null;
  assignedWorkerId: number | null;
  candidateAccessTokenHash: string | null;
  testExecutionId: number | null;
  testResult: JsonValue;
  errorMessage: string | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export function mapPackInstallRow(r: RawRow): PackInstallRow {
  return {
    id: toId(r.id),
    packRef: String(r.pack_ref),
    packVersion: String(r.pack_version),
    status: String(r.status),
    triggerReason: String(r.trigger_reason),
    packId: toIdOrNull(r.pack_id),
    requestedBy: toIdOrNull(r.requested_by),
    assignedWorkerId: toIdOrNull(r.assigned_worker_id),
    candidateAccessTokenHash: toStringOrNull(r.candidate_access_token_hash),
    testExecutionId: toIdOrNull(r.test_execution_id),
    testResult: r.test_result === null || r.test_result === undefined ? null : toJson(r.test_result),
    errorMessage: toStringOrNull(r.error_message),
    startedAt: toDate(r.started_at),
    updatedAt: toDate(r.updated_at),
    finishedAt: toDateOrNull(r.finished_at),
  };
}
