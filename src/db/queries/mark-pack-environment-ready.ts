import type { Queryable } from '../rows';

// spec 07 §5.3 step 4 (upstream `mark_coordinated_environment_ready`), guarded by the claimant.
export const MARK_PACK_ENVIRONMENT_READY_SQL = `
UPDATE pack_environment
SET status = 'ready',
    manifest_checksum = $3::text,
    installed_at = NOW(),
    last_verified = NOW(),
    claimed_by_worker = NULL,
    claim_expires_at = NULL,
    install_error = NULL,
    updated = NOW()
WHERE env_key = $1::text
  AND claimed_by_worker = $2::bigint`;

export async function markPackEnvironmentReady(db: Queryable, envKey: string, workerId: number, manifestChecksum: string | null): Promise<boolean> {
  const res = await db.query(MARK_PACK_ENVIRONMENT_READY_SQL, [envKey, workerId, manifestChecksum]);
  return (res.rowCount ?? 0) > 0;
}
