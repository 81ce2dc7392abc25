import type { Queryable } from '../rows';
import { mapPackEnvironmentRow, PACK_ENVIRONMENT_COLUMNS, type PackEnvironmentRow } from '../models/pack-environment';

// spec 07 §5.3 step 1 (upstream `upsert_coordinated_environment`): a changed env_path or
// manifest_checksum marks the row outdated and clears the claim, unless another worker holds
// an unexpired `installing` claim.
const CHANGED = `(pack_environment.env_path IS DISTINCT FROM EXCLUDED.env_path
        OR pack_environment.manifest_checksum IS DISTINCT FROM EXCLUDED.manifest_checksum)`;
const LIVE_CLAIM = `(pack_environment.status = 'installing'
        AND pack_environment.claim_expires_at IS NOT NULL
        AND pack_environment.claim_expires_at > NOW())`;

export const UPSERT_PACK_ENVIRONMENT_SQL = `
INSERT INTO pack_environment (pack, pack_ref, runtime, runtime_ref, runtime_version, runtime_version_text,
                              env_path, status, manifest_checksum)
VALUES ($1::bigint, $2::text, $3::bigint, $4::text, $5::bigint, $6::text, $7::text, 'pending', $8::text)
ON CONFLICT (env_key) DO UPDATE SET
    pack_ref = EXCLUDED.pack_ref,
    runtime_ref = EXCLUDED.runtime_ref,
    runtime_version = EXCLUDED.runtime_version,
    runtime_version_text = EXCLUDED.runtime_version_text,
    env_path = EXCLUDED.env_path,
    manifest_checksum = EXCLUDED.manifest_checksum,
    status = CASE WHEN ${CHANGED} THEN CASE WHEN ${LIVE_CLAIM} THEN pack_environment.status
                  ELSE 'outdated'::pack_environment_status_enum END
             ELSE pack_environment.status END,
    install_error = CASE WHEN ${CHANGED} THEN NULL ELSE pack_environment.install_error END,
    claimed_by_worker = CASE WHEN ${CHANGED} THEN CASE WHEN ${LIVE_CLAIM} THEN pack_environment.claimed_by_worker
                  ELSE NULL END
             ELSE pack_environment.claimed_by_worker END,
    claim_expires_at = CASE WHEN ${CHANGED} THEN CASE WHEN ${LIVE_CLAIM} THEN pack_environment.claim_expires_at
                  ELSE NULL END
             ELSE pack_environment.claim_expires_at END,
    updated = NOW()
RETURNING ${PACK_ENVIRONMENT_COLUMNS}`;

export interface UpsertPackEnvironmentInput {
  packId: number;
  packRef: string;
  runtimeId: number;
  runtimeRef: string;
  runtimeVersionId: number | null;
  runtimeVersionText: string | null;
  envPath: string;
  manifestChecksum: string | null;
}

export async function upsertPackEnvironment(db: Queryable, i: UpsertPackEnvironmentInput): Promise<PackEnvironmentRow> {
  const res = await db.query(UPSERT_PACK_ENVIRONMENT_SQL, [
    i.packId,
    i.packRef,
    i.runtimeId,
    i.runtimeRef,
    i.runtimeVersionId,
    i.runtimeVersionText,
    i.envPath,
    i.manifestChecksum,
  ]);
  return mapPackEnvironmentRow(res.rows[0]);
}
