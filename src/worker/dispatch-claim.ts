/**
 * issue 18: starting a dispatched execution in one statement. claimExecution reads the row,
 * checks the release pin and marks it `running` (db/queries/claim-execution.ts); the rules of
 * decideDispatch apply to the row it returns when it did not start it. The API pack transport
 * reads first: its release must be local before the row says `running` (issue 15).
 */
import type { AgentMetrics } from '../health';
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import type { ExecutionRow } from '../db/models/execution';
import { claimExecution, type ClaimResult } from '../db/queries/claim-execution';
import { getExecution } from '../db/queries/get-execution';
import type { Delivery } from '../mq/consumer';
import type { ExecutionDispatchPayload } from '../mq/messages';
import type { PackReleaseGate } from '../packs';
import { decideDispatch, inFlightSkip, type DispatchDecision } from './dispatch-rules';

export interface ClaimDeps {
  db: Queryable;
  workerId: number;
  log: Logger;
  metrics?: AgentMetrics;
  packReleases: PackReleaseGate | null;
  isInFlight: (id: number) => boolean;
  /** Row was `canceling` at dispatch (spec 02 §4.1 step 4). */
  settleCancelled: (row: ExecutionRow) => Promise<void>;
}

export type Claimed = Extract<ClaimResult, { claimed: true }>;

/** The claimed execution (durably `running`), 'requeue', or null = ack without running. */
export async function claimDispatch(deps: ClaimDeps, p: ExecutionDispatchPayload, d: Delivery): Promise<Claimed | 'requeue' | null> {
  const payload = { executionId: p.execution_id, releaseId: p.release_id ?? null, releaseDigest: p.release_digest ?? null };
  const rules = { workerId: deps.workerId, isInFlight: deps.isInFlight };
  /** True when the dispatch was handled (skipped or settled) without a run. */
  const skipOrSettle = async (row: ExecutionRow | null, known?: DispatchDecision): Promise<boolean> => {
    const decision = known ?? decideDispatch(row && { id: row.id, status: row.status, worker: row.worker, packRelease: row.packRelease, packReleaseDigest: row.packReleaseDigest }, payload, rules);
    if (decision.kind === 'skip') {
      deps.log[decision.level]({ executionId: p.execution_id, redelivered: d.redelivered }, decision.reason);
      deps.metrics?.dispatchRejected.inc({ reason: row === null && !known ? 'unknown_execution' : 'skipped' });
      return true;
    }
    if (decision.kind === 'cancel-before-run' && row) {
      await deps.settleCancelled(row);
      return true;
    }
    return false;
  };
  // A redelivery of what runs here needs no round trip.
  if (deps.isInFlight(p.execution_id)) {
    await skipOrSettle(null, inFlightSkip(p.execution_id));
    return null;
  }
  if (deps.packReleases) {
    // issue 15 (src/packs): API pack transport — the pinned release is made local before `running`.
    const before = await getExecution(deps.db, p.execution_id);
    if (await skipOrSettle(before)) return null;
    const gate = await deps.packReleases.beforeRun(before as ExecutionRow);
    if (gate !== 'run') return gate === 'requeue' ? 'requeue' : null;
  }
  // The guarded UPDATE decides which copy of a duplicated dispatch runs (see the query).
  const claim = await claimExecution(deps.db, { id: p.execution_id, releaseId: payload.releaseId, releaseDigest: payload.releaseDigest });
  if (claim?.claimed) return claim;
  // Not started: the row as it was tells why; "run" means it changed under us (a concurrent copy).
  if (await skipOrSettle(claim?.row ?? null)) return null;
  deps.log.info({ executionId: p.execution_id }, 'execution was already started or changed by someone else (duplicate dispatch?); not running it');
  return null;
}
