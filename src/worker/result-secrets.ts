/** spec 03 §4.5 / spec 04 §6.3: the originals of redacted result values, stored encrypted. */
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import { upsertExecutionSecretValue } from '../db/queries/upsert-execution-secret-value';
import type { ExecutionOutcome } from '../execution/types';
import { encryptJsonValue, encryptionKeyHash } from '../secrets/crypto';
import type { RetryOutcome } from './retrying';

export async function persistResultSecrets(opts: {
  db: Queryable;
  encryptionKey: string | null;
  executionId: number;
  outcome: ExecutionOutcome;
  log: Logger;
  retrying: <T>(what: string, fn: () => Promise<T>) => Promise<RetryOutcome<T>>;
}): Promise<void> {
  const { outcome, log, encryptionKey: key } = opts;
  if (outcome.redactedValues.length === 0) return;
  if (!key) {
    // Upstream fails the terminal write here and leaves the row `running`; we keep the
    // redacted result (nothing leaks) and say what was dropped.
    log.warn({ paths: outcome.redactedValues.map((v) => v.jsonPath) }, 'secret result values were redacted but not stored: security.encryption_key is not configured');
    return;
  }
  for (const v of outcome.redactedValues) {
    await opts.retrying('store a secret result value', () =>
      upsertExecutionSecretValue(opts.db, {
        entityType: 'execution_result',
        entityId: opts.executionId,
        jsonPath: v.jsonPath,
        sourceKind: v.sourceKind,
        sourceRef: null,
        encryptedValue: encryptJsonValue(v.value, key),
        encryptionKeyHash: encryptionKeyHash(key),
      }),
    );
  }
}
