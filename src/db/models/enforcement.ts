import { toDate, toDateOrNull, toId, toIdOrNull, toJson, toStringOrNull, type JsonValue, type RawRow } from '../rows';
import type { EnforcementConditionValue, EnforcementStatusValue } from './enums';

/** Every column of `enforcement` (spec 04 §3.7; upstream reads the whole row). */
export const ENFORCEMENT_COLUMNS =
  'id, rule, rule_ref, trigger_ref, pack_release, pack_release_digest, executable_snapshot, config, ' +
  'event, status, payload, condition, conditions, created, resolved_at';

export interface EnforcementRow {
  id: number;
  rule: number | null;
  /** Exported to the child as `ATTUNE_RULE`. */
  ruleRef: string;
  /** Exported to the child as `ATTUNE_TRIGGER`. */
  triggerRef: string;
  packRelease: number | null;
  packReleaseDigest: string | null;
  executableSnapshot: JsonValue;
  config: JsonValue;
  event: number | null;
  status: EnforcementStatusValue;
  payload: JsonValue;
  condition: EnforcementConditionValue;
  conditions: JsonValue;
  created: Date;
  resolvedAt: Date | null;
}

export function mapEnforcementRow(r: RawRow): EnforcementRow {
  return {
    id: toId(r.id),
    rule: toIdOrNull(r.rule),
    ruleRef: String(r.rule_ref),
    triggerRef: String(r.trigger_ref),
    packRelease: toIdOrNull(r.pack_release),
    packReleaseDigest: toStringOrNull(r.pack_release_digest),
    executableSnapshot: toJson(r.executable_snapshot),
    config: toJson(r.config),
    event: toIdOrNull(r.event),
    status: r.status as EnforcementStatusValue,
    payload: toJson(r.payload),
    condition: r.condition as EnforcementConditionValue,
    conditions: toJson(r.conditions),
    created: toDate(r.created),
    resolvedAt: toDateOrNull(r.resolved_at),
  };
}
