import { createHash } from 'node:crypto';
import type { Queryable } from '../rows';

// spec 07 §3.1 step 2 (upstream `PackRepository::acquire_mutation_lock`): a transaction-scoped
// advisory lock, released at commit/rollback; call inside withTransaction.
export const ACQUIRE_PACK_MUTATION_LOCK_SQL = `SELECT pg_advisory_xact_lock($1::bigint)`;

/** First 8 bytes, big-endian signed, of SHA-256("attune:pack-mutation:v1" 0x00 <ref>). */
export function packMutationLockKey(packRef: string): bigint {
  const digest = createHash('sha256')
    .update(Buffer.concat([Buffer.from('attune:pack-mutation:v1', 'utf8'), Buffer.from([0]), Buffer.from(packRef, 'utf8')]))
    .digest();
  return digest.readBigInt64BE(0);
}

export async function acquirePackMutationLock(db: Queryable, packRef: string): Promise<void> {
  await db.query(ACQUIRE_PACK_MUTATION_LOCK_SQL, [packMutationLockKey(packRef).toString()]);
}
