import type { Queryable } from '../rows';

// spec 07 §5.3 step 4 (upstream `renew_coordinated_environment_claim`).
export const RENEW_PACK_ENVIRONMENT_CLAIM_SQL = `
UPDATE pack_environment
SET claim_expires_at = NOW() + ($3::bigint * INTERVAL '1 second'),
    updated = NOW()
WHERE env_key = $1::text
  AND claimed_by_worker = $2::bigint
  AND status = 'installing'`;

/** false once the claim is no longer ours (stop renewing). */
export async function renewPackEnvironmentClaim(db: Queryable, envKey: string, workerId: number, leaseSec: number): Promise<boolean> {
  const res = await db.query(RENEW_PACK_ENVIRONMENT_CLAIM_SQL, [envKey, workerId, leaseSec]);
  return (res.rowCount ?? 0) > 0;
}
