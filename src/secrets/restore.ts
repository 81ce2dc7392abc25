/**
 * Restoring the secret parameters of one execution (spec 03 §2.1, spec 04 §6.2): the stored
 * `execution.config` holds redaction markers at the secret paths; the `execution_secret_value`
 * rows (entity `execution_config`) hold the encrypted originals.
 */
import { decryptJsonValue, EncryptionError, encryptionKeyHash } from './crypto';
import { setAtPointer } from './json-pointer';

/** One `execution_secret_value` row, as the DB adapter maps it. */
export interface StoredSecretValue {
  jsonPath: string;
  /** The JSONB value: a JSON string holding the base64 ciphertext. */
  encryptedValue: unknown;
  /** null skips the key check (spec 04 §6.1). */
  encryptionKeyHash: string | null;
}

/**
 * A restore failure. `message` is upstream's `Error` Display, ready to be prefixed with
 * `Failed to prepare execution context: ` (spec 03 §5).
 */
export class SecretRestoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretRestoreError';
  }
}

/**
 * Returns the parameter document with every row decrypted and spliced in at its pointer.
 * `rows` must be in `json_path` order (the query orders them). No rows → `config` unchanged
 * (no key needed). The input is not mutated.
 */
export function restoreSecretParameters(
  config: unknown,
  rows: readonly StoredSecretValue[],
  key: string | null | undefined,
  executionId: number,
): unknown {
  if (rows.length === 0) return config;
  if (key === null || key === undefined || key === '') {
    throw new SecretRestoreError('Internal error: No encryption key configured');
  }
  let doc: unknown = structuredClone(config);
  try {
    const actualHash = encryptionKeyHash(key);
    for (const row of rows) {
      if (row.encryptionKeyHash !== null && row.encryptionKeyHash !== actualHash) {
        throw new EncryptionError(`Encryption key hash mismatch for secret path '${row.jsonPath}'`);
      }
      doc = setAtPointer(doc, row.jsonPath, decryptJsonValue(row.encryptedValue, key));
    }
  } catch (e) {
    const inner = e instanceof EncryptionError ? e.display : `Internal error: ${(e as Error).message}`;
    // spec 04 §6.2 / upstream secrets.rs: the whole restore error is wrapped as Internal.
    throw new SecretRestoreError(
      `Internal error: Failed to restore secret parameters for execution ${executionId}: ${inner}`,
      { cause: e },
    );
  }
  return doc;
}
