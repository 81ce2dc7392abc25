import { toDateOrNull, toId, toIdOrNull, toStringOrNull, type RawRow } from '../rows';

/** Coordinated `pack_environment` columns (upstream `pack_environment.rs`, spec 07 §5.3). */
export const PACK_ENVIRONMENT_COLUMNS =
  'id, pack, pack_ref, runtime, runtime_ref, runtime_version, runtime_version_text, env_key, env_path, status, ' +
  'manifest_checksum, claimed_by_worker, claim_expires_at, installed_at, last_verified, install_error';

export type PackEnvironmentStatus = 'pending' | 'installing' | 'ready' | 'failed' | 'outdated';

export interface PackEnvironmentRow {
  id: number;
  pack: number;
  packRef: string;
  runtime: number;
  runtimeRef: string;
  runtimeVersion: number | null;
  runtimeVersionText: string | null;
  envKey: string;
  envPath: string;
  status: PackEnvironmentStatus;
  manifestChecksum: string | null;
  claimedByWorker: number | null;
  claimExpiresAt: Date | null;
  installedAt: Date | null;
  lastVerified: Date | null;
  installError: string | null;
}

export function mapPackEnvironmentRow(r: RawRow): PackEnvironmentRow {
  return {
    id: toId(r.id),
    pack: toId(r.pack),
    packRef: String(r.pack_ref),
    runtime: toId(r.runtime),
    runtimeRef: String(r.runtime_ref),
    runtimeVersion: toIdOrNull(r.runtime_version),
    runtimeVersionText: toStringOrNull(r.runtime_version_text),
    envKey: String(r.env_key),
    envPath: String(r.env_path),
    status: String(r.status) as PackEnvironmentStatus,
    manifestChecksum: toStringOrNull(r.manifest_checksum),
    claimedByWorker: toIdOrNull(r.claimed_by_worker),
    claimExpiresAt: toDateOrNull(r.claim_expires_at),
    installedAt: toDateOrNull(r.installed_at),
    lastVerified: toDateOrNull(r.last_verified),
    installError: toStringOrNull(r.install_error),
  };
}
