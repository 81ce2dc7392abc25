import { toDate, toId, toJson, toStringOrNull, type JsonValue, type RawRow } from '../rows';

/** Every column of `execution_secret_value` (spec 04 §3.8). */
export const EXECUTION_SECRET_VALUE_COLUMNS =
  'id, entity_type, entity_id, json_path, source_kind, source_ref, encrypted_value, encryption_key_hash, created';

/** `execution_config` (parameters) or `execution_result` (redacted result paths), spec 04 §6. */
export type SecretEntityType = 'execution_config' | 'execution_result' | string;

export interface ExecutionSecretValueRow {
  id: number;
  entityType: SecretEntityType;
  entityId: number;
  /** RFC 6901 pointer into the redacted document. */
  jsonPath: string;
  sourceKind: string;
  sourceRef: string | null;
  /** A JSON string holding base64(nonce ‖ ciphertext ‖ tag) (spec 04 §6.1). */
  encryptedValue: JsonValue;
  encryptionKeyHash: string | null;
  created: Date;
}

export function mapExecutionSecretValueRow(r: RawRow): ExecutionSecretValueRow {
  return {
    id: toId(r.id),
    entityType: String(r.entity_type),
    entityId: toId(r.entity_id),
    jsonPath: String(r.json_path),
    sourceKind: String(r.source_kind),
    sourceRef: toStringOrNull(r.source_ref),
    encryptedValue: toJson(r.encrypted_value),
    encryptionKeyHash: toStringOrNull(r.encryption_key_hash),
    created: toDate(r.created),
  };
}
