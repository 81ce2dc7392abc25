import { toDate, toDateOrNull, toId, toIntOrNull, toJsonObject, type JsonObject, type RawRow } from '../rows';

/** Every column of `runtime_version` (spec 04 §3.3). */
export const RUNTIME_VERSION_COLUMNS =
  'id, runtime, runtime_ref, version, version_major, version_minor, version_patch, execution_config, ' +
  'distributions, is_default, available, verified_at, meta, retired_at, created, updated';

export interface RuntimeVersionRow {
  id: number;
  runtime: number;
  runtimeRef: string;
  version: string;
  versionMajor: number | null;
  versionMinor: number | null;
  versionPatch: number | null;
  /** Full replacement `execution_config` for this version. */
  executionConfig: JsonObject;
  /** Version-specific `verification.commands` (spec 01 §8.1). */
  distributions: JsonObject;
  isDefault: boolean;
  /** Global flag (not per worker). */
  available: boolean;
  verifiedAt: Date | null;
  meta: JsonObject;
  retiredAt: Date | null;
  created: Date;
  updated: Date;
}

export function mapRuntimeVersionRow(r: RawRow): RuntimeVersionRow {
  return {
    id: toId(r.id),
    runtime: toId(r.runtime),
    runtimeRef: String(r.runtime_ref),
    version: String(r.version),
    versionMajor: toIntOrNull(r.version_major),
    versionMinor: toIntOrNull(r.version_minor),
    versionPatch: toIntOrNull(r.version_patch),
    executionConfig: toJsonObject(r.execution_config),
    distributions: toJsonObject(r.distributions),
    isDefault: r.is_default === true,
    available: r.available === true,
    verifiedAt: toDateOrNull(r.verified_at),
    meta: toJsonObject(r.meta),
    retiredAt: toDateOrNull(r.retired_at),
    created: toDate(r.created),
    updated: toDate(r.updated),
  };
}
