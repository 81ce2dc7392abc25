import { jsonParam, type Queryable } from '../rows';
import type { PackInstallStatus } from '../models/pack-install';

// spec 07 §1.4 `finish_running`: guarded by status = 'running' (zero rows → ignored); the
// candidate token hash is always cleared; `activating` leaves finished_at NULL for the API.
export const FINISH_PACK_INSTALL_SQL = `
UPDATE pack_install
SET status = $2::text,
    test_execution_id = COALESCE($3::bigint, test_execution_id),
    test_result = COALESCE($4::jsonb, test_result),
    error_message = $5::text,
    candidate_access_token_hash = NULL,
    finished_at = CASE WHEN $2::text = 'activating' THEN NULL ELSE COALESCE(finished_at, NOW()) END,
    updated_at = NOW()
WHERE id = $1::bigint AND status = 'running'`;

export interface FinishPackInstallInput {
  id: number;
  status: Extract<PackInstallStatus, 'activating' | 'succeeded' | 'failed'>;
  testExecutionId: number | null;
  testResult: unknown;
  errorMessage: string | null;
}

/** Returns false when the install was no longer `running` (nothing written). */
export async function finishPackInstall(db: Queryable, input: FinishPackInstallInput): Promise<boolean> {
  const res = await db.query(FINISH_PACK_INSTALL_SQL, [
    input.id,
    input.status,
    input.testExecutionId,
    input.testResult === null || input.testResult === undefined ? null : jsonParam(input.testResult),
    input.errorMessage,
  ]);
  return (res.rowCount ?? 0) > 0;
}
