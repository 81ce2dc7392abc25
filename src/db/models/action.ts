import { toDate, toDateOrNull, toId, toIdOrNull, toIntOrNull, toJson, toJsonObject, toStringArray, toStringOrNull, type JsonObject, type JsonValue, type RawRow } from '../rows';
import type { ReferenceVisibilityValue, RetentionPolicyValue } from './enums';

/**
 * Worker read column list for `action` (upstream `ACTION_COLUMNS` @126b167, spec 04 §3.5).
 * `enabled` is the generated `effective_enabled` (operator override applied).
 */
export const ACTION_COLUMNS =
  'id, ref, pack, pack_ref, label, description, entrypoint, runtime, effective_enabled AS enabled, ' +
  'enabled_override, runtime_version_constraint, required_worker_runtimes, worker_selector, ' +
  'worker_tolerations, worker_affinity, param_schema, out_schema, workflow_def, is_adhoc, ' +
  'accesses_mcp, default_execution_permission_set_refs, reference_visibility, ' +
  'reference_allowed_pack_refs, log_retention_policy, log_retention_limit, ' +
  'artifact_retention_policy, artifact_retention_limit, timeout_seconds, parameter_delivery, ' +
  'parameter_format, output_format, retired_at, created, updated';

export interface ActionRow {
  id: number;
  ref: string;
  pack: number;
  packRef: string;
  label: string;
  description: string | null;
  entrypoint: string;
  runtime: number | null;
  /** `effective_enabled` = COALESCE(enabled_override, enabled). */
  enabled: boolean;
  enabledOverride: boolean | null;
  runtimeVersionConstraint: string | null;
  requiredWorkerRuntimes: JsonObject;
  workerSelector: JsonValue;
  workerTolerations: JsonValue;
  workerAffinity: JsonValue;
  paramSchema: JsonValue;
  /** `secret: true` markers drive result redaction (spec 04 §6.3). */
  outSchema: JsonValue;
  workflowDef: number | null;
  isAdhoc: boolean;
  accessesMcp: boolean;
  defaultExecutionPermissionSetRefs: string[];
  referenceVisibility: ReferenceVisibilityValue;
  referenceAllowedPackRefs: string[];
  logRetentionPolicy: RetentionPolicyValue | null;
  logRetentionLimit: number | null;
  artifactRetentionPolicy: RetentionPolicyValue | null;
  artifactRetentionLimit: number | null;
  timeoutSeconds: number | null;
  /** TEXT + CHECK columns (`stdin`/`file`, `dotenv`/`json`/`yaml`, `text`/`json`/`yaml`/`jsonl`). */
  parameterDelivery: string;
  parameterFormat: string;
  outputFormat: string;
  retiredAt: Date | null;
  created: Date;
  updated: Date;
}

export function mapActionRow(r: RawRow): ActionRow {
  return {
    id: toId(r.id),
    ref: String(r.ref),
    pack: toId(r.pack),
    packRef: String(r.pack_ref),
    label: String(r.label),
    description: toStringOrNull(r.description),
    entrypoint: String(r.entrypoint),
    runtime: toIdOrNull(r.runtime),
    enabled: r.enabled === true,
    enabledOverride: r.enabled_override === null || r.enabled_override === undefined ? null : r.enabled_override === true,
    runtimeVersionConstraint: toStringOrNull(r.runtime_version_constraint),
    requiredWorkerRuntimes: toJsonObject(r.required_worker_runtimes),
    workerSelector: toJson(r.worker_selector),
    workerTolerations: toJson(r.worker_tolerations),
    workerAffinity: toJson(r.worker_affinity),
    paramSchema: toJson(r.param_schema),
    outSchema: toJson(r.out_schema),
    workflowDef: toIdOrNull(r.workflow_def),
    isAdhoc: r.is_adhoc === true,
    accessesMcp: r.accesses_mcp === true,
    defaultExecutionPermissionSetRefs: toStringArray(r.default_execution_permission_set_refs),
    referenceVisibility: r.reference_visibility as ReferenceVisibilityValue,
    referenceAllowedPackRefs: toStringArray(r.reference_allowed_pack_refs),
    logRetentionPolicy: (r.log_retention_policy ?? null) as RetentionPolicyValue | null,
    logRetentionLimit: toIntOrNull(r.log_retention_limit),
    artifactRetentionPolicy: (r.artifact_retention_policy ?? null) as RetentionPolicyValue | null,
    artifactRetentionLimit: toIntOrNull(r.artifact_retention_limit),
    timeoutSeconds: toIntOrNull(r.timeout_seconds),
    parameterDelivery: String(r.parameter_delivery),
    parameterFormat: String(r.parameter_format),
    outputFormat: String(r.output_format),
    retiredAt: toDateOrNull(r.retired_at),
    created: toDate(r.created),
    updated: toDate(r.updated),
  };
}
