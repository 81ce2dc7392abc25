import { toDate, toDateOrNull, toId, toIdOrNull, toJson, toJsonObject, toStringArray, toStringOrNull, type JsonObject, type JsonValue, type RawRow } from '../rows';

/**
 * Runtime read column list (upstream `SELECT_COLUMNS` @126b167, spec 04 §3.2). The catalog
 * columns (`catalog_revision`, `managed_release`, `management_origin`) are not read.
 */
export const RUNTIME_COLUMNS =
  'id, ref, pack, pack_ref, description, name, aliases, distributions, installation, installers, ' +
  'execution_config, auto_detected, detection_config, retired_at, created, updated';

export interface RuntimeRow {
  id: number;
  ref: string;
  pack: number | null;
  packRef: string | null;
  description: string | null;
  /** Display name (`Shell`, `Python`, `Node.js`); lower-cased it is the executor's runtime name. */
  name: string;
  aliases: string[];
  /** `verification.commands[]`, `always_available`, `check_required`… (spec 01 §4.4). */
  distributions: JsonObject;
  installation: JsonValue;
  installers: JsonValue;
  /** spec 03 §7.1 shape, snake_case as stored. */
  executionConfig: JsonObject;
  autoDetected: boolean;
  detectionConfig: JsonObject;
  retiredAt: Date | null;
  created: Date;
  updated: Date;
}

export function mapRuntimeRow(r: RawRow): RuntimeRow {
  return {
    id: toId(r.id),
    ref: String(r.ref),
    pack: toIdOrNull(r.pack),
    packRef: toStringOrNull(r.pack_ref),
    description: toStringOrNull(r.description),
    name: String(r.name),
    aliases: toStringArray(r.aliases),
    distributions: toJsonObject(r.distributions),
    installation: toJson(r.installation),
    installers: toJson(r.installers),
    executionConfig: toJsonObject(r.execution_config),
    autoDetected: r.auto_detected === true,
    detectionConfig: toJsonObject(r.detection_config),
    retiredAt: toDateOrNull(r.retired_at),
    created: toDate(r.created),
    updated: toDate(r.updated),
  };
}
