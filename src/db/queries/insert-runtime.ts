import { jsonParam, type JsonObject, type JsonValue, type Queryable } from '../rows';
import { mapRuntimeRow, RUNTIME_COLUMNS, type RuntimeRow } from '../models/runtime';

// spec 01 §5: upstream's repository insert column list. `installers` is always bound (the
// agent passes `{}`); catalog columns are left NULL, so the row's management_origin is
// `ad_hoc` (pack NULL) or `pack`.
export const INSERT_RUNTIME_SQL = `
INSERT INTO runtime (ref, pack, pack_ref, description, name, aliases, distributions, installation,
                     installers, execution_config, auto_detected, detection_config)
VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text[], $7::jsonb, $8::jsonb,
        $9::jsonb, $10::jsonb, $11::boolean, $12::jsonb)
RETURNING ${RUNTIME_COLUMNS}`;

export interface InsertRuntimeInput {
  ref: string;
  pack: number | null;
  packRef: string | null;
  description: string | null;
  name: string;
  aliases: readonly string[];
  distributions: JsonObject;
  installation: JsonValue;
  installers: JsonValue;
  executionConfig: JsonObject;
  autoDetected: boolean;
  detectionConfig: JsonObject;
}

/** Throws pg's unique violation (23505) when the ref exists. */
export async function insertRuntime(db: Queryable, input: InsertRuntimeInput): Promise<RuntimeRow> {
  const res = await db.query(INSERT_RUNTIME_SQL, [
    input.ref,
    input.pack,
    input.packRef,
    input.description,
    input.name,
    [...input.aliases],
    jsonParam(input.distributions),
    jsonParam(input.installation),
    jsonParam(input.installers),
    jsonParam(input.executionConfig),
    input.autoDetected,
    jsonParam(input.detectionConfig),
  ]);
  return mapRuntimeRow(res.rows[0]);
}
