import { toDate, toDateOrNull, toId, toIdOrNull, toIntOrNull, toJson, toStringArray, toStringOrNull, type JsonValue, type RawRow } from '../rows';
import type { ExecutionStatusValue, RetentionPolicyValue } from './enums';

/**
 * Worker read column list for `execution` (upstream `SELECT_COLUMNS` @03eeaa5, in this order;
 * spec 04 §3.6). `workflow_def` is deliberately absent: it is a DB-only column.
 */
export const EXECUTION_COLUMNS =
  'id, action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, ' +
  'env_vars, parent, enforcement, executor, permission_set_refs, artifact_retention_policy, ' +
  'artifact_retention_limit, worker_selector, worker_tolerations, worker_affinity, worker, status, ' +
  'trace_tag, result, retry_count, max_retries, retry_reason, original_execution, started_at, ' +
  'timeout_seconds, workflow_task, created, updated';

/**
 * The same list with `result` not sent back (`NULL AS result`): for the terminal UPDATE, whose
 * caller already holds the result — a 10 MiB stdout would otherwise cross the wire twice and be
 * parsed again into the agent's memory.
 */
export const EXECUTION_COLUMNS_WITHOUT_RESULT = EXECUTION_COLUMNS.replace(' result,', ' NULL::jsonb AS result,');

export interface ExecutionRow {
  id: number;
  action: number | null;
  actionRef: string;
  packRelease: number | null;
  packReleaseDigest: string | null;
  /** spec 04 §3.6.1; decoded leniently by the consumer. */
  executableSnapshot: JsonValue;
  /** Flat parameter object with secret markers (spec 04 §6.2). */
  config: JsonValue;
  envVars: JsonValue;
  parent: number | null;
  enforcement: number | null;
  executor: number | null;
  permissionSetRefs: string[];
  artifactRetentionPolicy: RetentionPolicyValue | null;
  artifactRetentionLimit: number | null;
  workerSelector: JsonValue;
  workerTolerations: JsonValue;
  workerAffinity: JsonValue;
  worker: number | null;
  status: ExecutionStatusValue;
  traceTag: string | null;
  result: JsonValue;
  retryCount: number;
  maxRetries: number | null;
  retryReason: string | null;
  originalExecution: number | null;
  startedAt: Date | null;
  timeoutSeconds: number | null;
  /** spec 04 §3.6.2. */
  workflowTask: JsonValue;
  created: Date;
  updated: Date;
}

export function mapExecutionRow(r: RawRow): ExecutionRow {
  return {
    id: toId(r.id),
    action: toIdOrNull(r.action),
    actionRef: String(r.action_ref),
    packRelease: toIdOrNull(r.pack_release),
    packReleaseDigest: toStringOrNull(r.pack_release_digest),
    executableSnapshot: toJson(r.executable_snapshot),
    config: toJson(r.config),
    envVars: toJson(r.env_vars),
    parent: toIdOrNull(r.parent),
    enforcement: toIdOrNull(r.enforcement),
    executor: toIdOrNull(r.executor),
    permissionSetRefs: toStringArray(r.permission_set_refs),
    artifactRetentionPolicy: (r.artifact_retention_policy ?? null) as RetentionPolicyValue | null,
    artifactRetentionLimit: toIntOrNull(r.artifact_retention_limit),
    workerSelector: toJson(r.worker_selector),
    workerTolerations: toJson(r.worker_tolerations),
    workerAffinity: toJson(r.worker_affinity),
    worker: toIdOrNull(r.worker),
    status: r.status as ExecutionStatusValue,
    traceTag: toStringOrNull(r.trace_tag),
    result: toJson(r.result),
    retryCount: toIntOrNull(r.retry_count) ?? 0,
    maxRetries: toIntOrNull(r.max_retries),
    retryReason: toStringOrNull(r.retry_reason),
    originalExecution: toIdOrNull(r.original_execution),
    startedAt: toDateOrNull(r.started_at),
    timeoutSeconds: toIntOrNull(r.timeout_seconds),
    workflowTask: toJson(r.workflow_task),
    created: toDate(r.created),
    updated: toDate(r.updated),
  };
}
