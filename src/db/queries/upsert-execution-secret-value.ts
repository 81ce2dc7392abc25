import { jsonParam, type JsonValue, type Queryable } from '../rows';
import {
  EXECUTION_SECRET_VALUE_COLUMNS,
  mapExecutionSecretValueRow,
  type ExecutionSecretValueRow,
  type SecretEntityType,
} from '../models/execution-secret-value';

// spec 04 §4.2 step 16 / §6.3: ON CONFLICT on the table's UNIQUE (entity_type, entity_id,
// json_path) replaces source and ciphertext; `created` keeps the first insert time.
export const UPSERT_EXECUTION_SECRET_VALUE_SQL = `
INSERT INTO execution_secret_value (entity_type, entity_id, json_path, source_kind, source_ref,
                                    encrypted_value, encryption_key_hash)
VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::jsonb, $7::text)
ON CONFLICT (entity_type, entity_id, json_path) DO UPDATE
SET source_kind = EXCLUDED.source_kind,
    source_ref = EXCLUDED.source_ref,
    encrypted_value = EXCLUDED.encrypted_value,
    encryption_key_hash = EXCLUDED.encryption_key_hash
RETURNING ${EXECUTION_SECRET_VALUE_COLUMNS}`;

export interface UpsertExecutionSecretValueInput {
  entityType: SecretEntityType;
  entityId: number;
  jsonPath: string;
  sourceKind: string;
  sourceRef: string | null;
  /** JSON string with the base64 ciphertext (spec 04 §6.1). */
  encryptedValue: JsonValue;
  encryptionKeyHash: string | null;
}

export async function upsertExecutionSecretValue(
  db: Queryable,
  input: UpsertExecutionSecretValueInput,
): Promise<ExecutionSecretValueRow> {
  const res = await db.query(UPSERT_EXECUTION_SECRET_VALUE_SQL, [
    input.entityType,
    input.entityId,
    input.jsonPath,
    input.sourceKind,
    input.sourceRef,
    jsonParam(input.encryptedValue),
    input.encryptionKeyHash,
  ]);
  return mapExecutionSecretValueRow(res.rows[0]);
}
