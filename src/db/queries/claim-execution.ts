import { prepared } from '../prepared';
import type { Queryable } from '../rows';
import { EXECUTION_COLUMNS, mapExecutionRow, type ExecutionRow } from '../models/execution';
import { EXECUTION_SECRET_VALUE_COLUMNS, mapExecutionSecretValueRow, type ExecutionSecretValueRow } from '../models/execution-secret-value';
import { toStringOrNull } from '../rows';

/**
 * The dispatch's reads and the `running` mark in ONE statement (issue 18; spec 04 §4.2 steps
 * 1, 3, 6, 9): the guarded `running` UPDATE — same SET, same row values,
 * same triggers (`execution_status_changed`, execution_history) — further guarded by the
 * release pin the dispatch names (spec 03 §1.1 step 2, checked before by a separate read).
 * When it updates, the statement also returns what preparation reads per execution: the
 * secret parameter rows (`execution_config`, json_path order) and the enforcement's rule and
 * trigger refs. When it does not, it returns the row as it was (statement snapshot), so the
 * caller can tell a cancel-before-run, a stale dispatch or a redelivery apart; no row at all
 * means the execution does not exist.
 *
 * Deliberate difference from upstream (spec 04 §4.2 step 3, §8.5): upstream's UPDATE is
 * unconditional and would overwrite a terminal row (e.g. one the executor already marked
 * `cancelled`/`timeout`) or a `canceling` row back to `running`. This UPDATE only moves rows
 * that have not started (`requested`, `scheduling`, `scheduled`): it is the single place that
 * decides which delivery of a dispatch runs the action. Two copies of one dispatch (a
 * redelivery next to its stale original after a reconnect, a producer retry, two processes
 * sharing a worker name) race on this row and exactly one gets it back; a row left `running`
 * by a crashed agent is settled as `abandoned` at the next start instead of being re-run.
 */
export const CLAIM_EXECUTION_SQL = prepared(
  'claim-execution',
  `
WITH claimed AS (
  UPDATE execution
  SET status = 'running',
      started_at = $2::timestamptz,
      updated = NOW()
  WHERE id = $1::bigint
    AND status IN ('requested', 'scheduling', 'scheduled')
    AND pack_release IS NOT DISTINCT FROM $3::bigint
    AND pack_release_digest IS NOT DISTINCT FROM $4::text
  RETURNING ${EXECUTION_COLUMNS}
)
SELECT true AS claimed, c.*,
       (SELECT e.status::text FROM execution e WHERE e.id = $1::bigint) AS claim_previous_status,
       CASE WHEN c.config IS NULL THEN NULL ELSE (
         SELECT json_agg(json_build_object(${jsonPairs(EXECUTION_SECRET_VALUE_COLUMNS)}) ORDER BY s.json_path)
         FROM execution_secret_value s
         WHERE s.entity_type = 'execution_config' AND s.entity_id = c.id
       ) END AS claim_secrets,
       (SELECT f.rule_ref FROM enforcement f WHERE f.id = c.enforcement) AS claim_rule_ref,
       (SELECT f.trigger_ref FROM enforcement f WHERE f.id = c.enforcement) AS claim_trigger_ref
FROM claimed c
UNION ALL
SELECT false, x.*, NULL, NULL, NULL, NULL
FROM (SELECT ${EXECUTION_COLUMNS} FROM execution WHERE id = $1::bigint) x
WHERE NOT EXISTS (SELECT 1 FROM claimed)`,
);

function jsonPairs(columns: string): string {
  return columns
    .split(',')
    .map((c) => c.trim())
    .map((c) => `'${c}', s.${c}`)
    .join(', ');
}

export interface ClaimExecutionInput {
  id: number;
  /** The release the dispatch names (spec 03 §1.1 step 2): the row must be pinned to it. */
  releaseId: number | null;
  releaseDigest: string | null;
  startedAt?: Date;
}

export type ClaimResult =
  /** Marked `running` by this statement: run it. */
  | { claimed: true; row: ExecutionRow; previousStatus: string; secretRows: ExecutionSecretValueRow[]; enforcement: { ruleRef: string | null; triggerRef: string | null } | null }
  /** Not changed: the row as it is (not startable, release mismatch, or someone else changed it). */
  | { claimed: false; row: ExecutionRow }
  | null;

/** Returns null when the execution does not exist. */
export async function claimExecution(db: Queryable, input: ClaimExecutionInput): Promise<ClaimResult> {
  const res = await db.query(CLAIM_EXECUTION_SQL, [input.id, input.startedAt ?? new Date(), input.releaseId, input.releaseDigest]);
  const r = res.rows[0];
  if (!r) return null;
  const row = mapExecutionRow(r);
  if (r.claimed !== true) return { claimed: false, row };
  const secrets = Array.isArray(r.claim_secrets) ? (r.claim_secrets as Record<string, unknown>[]) : [];
  return {
    claimed: true,
    row,
    // The subquery reads the statement's snapshot: the status before this UPDATE.
    previousStatus: toStringOrNull(r.claim_previous_status) ?? 'scheduled',
    secretRows: secrets.map(mapExecutionSecretValueRow),
    enforcement: row.enforcement === null ? null : { ruleRef: toStringOrNull(r.claim_rule_ref), triggerRef: toStringOrNull(r.claim_trigger_ref) },
  };
}
