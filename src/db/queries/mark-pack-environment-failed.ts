import type { Queryable } from '../rows';

// spec 07 §5.3 step 4 (upstream `mark_coordinated_environment_failed`), guarded by the claimant.
export const MARK_PACK_ENVIRONMENT_FAILED_SQL = `
UPDATE pack_environment
SET status = 'failed',
    install_error = $3::text,
    claimed_by_worker = NULL,
    claim_expires_at = NULL,
    updated = NOW()
WHERE env_key = $1::text
  AND claimed_by_worker = $2::bigint`;

export async function markPackEnvironmentFailed(db: Queryable, envKey: string, workerId: number, error: string): Promise<boolean> {
  const res = await db.query(MARK_PACK_ENVIRONMENT_FAILED_SQL, [envKey, workerId, error]);
  return (res.rowCount ?? 0) > 0;
}
