import type { Queryable } from '../rows';
import { mapPackEnvironmentRow, PACK_ENVIRONMENT_COLUMNS, type PackEnvironmentRow } from '../models/pack-environment';

// spec 07 §5.3 step 3 (upstream `claim_coordinated_environment`): compare-and-set lease.
export const CLAIM_PACK_ENVIRONMENT_SQL = `
UPDATE pack_environment
SET status = 'installing',
    claimed_by_worker = $2::bigint,
    claim_expires_at = NOW() + ($3::bigint * INTERVAL '1 second'),
    install_error = NULL,
    updated = NOW()
WHERE env_key = $1::text
  AND (status IN ('pending', 'failed', 'outdated')
       OR (status = 'installing' AND (claim_expires_at IS NULL OR claim_expires_at <= NOW())))
RETURNING ${PACK_ENVIRONMENT_COLUMNS}`;

/** null when another worker owns the row (or it is ready). */
export async function claimPackEnvironment(db: Queryable, envKey: string, workerId: number, leaseSec: number): Promise<PackEnvironmentRow | null> {
  const res = await db.query(CLAIM_PACK_ENVIRONMENT_SQL, [envKey, workerId, leaseSec]);
  return res.rows[0] ? mapPackEnvironmentRow(res.rows[0]) : null;
}
