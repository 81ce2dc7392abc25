import type { Queryable } from '../rows';

// spec 07 §5.3 step 3 (upstream `mark_coordinated_environment_outdated`): a ready row whose
// directory needs a reinstall; clears the claim.
export const MARK_PACK_ENVIRONMENT_OUTDATED_SQL = `
UPDATE pack_environment
SET status = 'outdated',
    claimed_by_worker = NULL,
    claim_expires_at = NULL,
    updated = NOW()
WHERE env_key = $1::text`;

export async function markPackEnvironmentOutdated(db: Queryable, envKey: string): Promise<boolean> {
  const res = await db.query(MARK_PACK_ENVIRONMENT_OUTDATED_SQL, [envKey]);
  return (res.rowCount ?? 0) > 0;
}
