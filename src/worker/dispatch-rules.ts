/**
 * Pure decisions of the execution flow (spec 02 §4.1, §5.3; spec 03 §1.1, §6.1; spec 04 §4.2).
 * No I/O here: the service feeds rows in and acts on the answer.
 */
import type { ExecutionStatus } from '../execution/types';

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'timeout', 'abandoned']);

/** The columns of `execution` the decisions need. */
export interface DispatchRowView {
  id: number;
  status: string;
  worker: number | null;
  packRelease: number | null;
  packReleaseDigest: string | null;
}

export interface DispatchPayloadView {
  executionId: number;
  releaseId: number | null;
  releaseDigest: string | null;
}

export type DispatchDecision =
  | { kind: 'run' }
  /** Ack and do nothing; `level` tells how loudly to log it. */
  | { kind: 'skip'; reason: string; level: 'info' | 'warn' | 'error' }
  /** Row is `canceling`: settle it as cancelled without running (spec 02 §4.1 step 4). */
  | { kind: 'cancel-before-run' };

/**
 * What to do with a dispatch, given the row as read from PostgreSQL.
 * Differences from upstream, on purpose:
 * - a row already running here or already terminal is skipped (redelivery never runs twice);
 * - an unpinned row is run from `{packs_base_dir}/{pack_ref}` (older upstream behaviour) instead
 *   of being left `scheduled` with no trace.
 */
export function decideDispatch(
  row: DispatchRowView | null,
  payload: DispatchPayloadView,
  ctx: { workerId: number; isInFlight: (id: number) => boolean },
): DispatchDecision {
  if (row === null) {
    return { kind: 'skip', level: 'error', reason: `Execution ${payload.executionId} does not exist in the database; nothing to run` };
  }
  if (ctx.isInFlight(row.id)) return inFlightSkip(row.id);
  if (row.status === 'cancelled') {
    return { kind: 'skip', level: 'info', reason: `Execution ${row.id} was cancelled before it started` };
  }
  if (row.status === 'canceling') return { kind: 'cancel-before-run' };
  if (TERMINAL_STATUSES.has(row.status)) {
    return { kind: 'skip', level: 'info', reason: `Execution ${row.id} is already ${row.status} (redelivered dispatch); not running it again` };
  }
  if (row.status === 'running') {
    return {
      kind: 'skip',
      level: 'warn',
      reason: `Execution ${row.id} is already running${row.worker !== null && row.worker !== ctx.workerId ? ` on worker ${row.worker}` : ''}; not starting a second copy`,
    };
  }
  // spec 03 §1.1 step 2: the dispatch must name the release the row is pinned to (null equals null).
  if (payload.releaseId !== row.packRelease || (payload.releaseDigest ?? null) !== (row.packReleaseDigest ?? null)) {
    return {
      kind: 'skip',
      level: 'warn',
      reason: `Execution ${row.id} release identity in MQ does not match its durable snapshot (message: ${payload.releaseId ?? 'null'}/${payload.releaseDigest ?? 'null'}, row: ${row.packRelease ?? 'null'}/${row.packReleaseDigest ?? 'null'}); ignoring the stale dispatch`,
    };
  }
  return { kind: 'run' };
}

/** A dispatch for an execution this agent is running now (checked before any read). */
export function inFlightSkip(id: number): DispatchDecision & { kind: 'skip' } {
  return { kind: 'skip', level: 'info', reason: `Execution ${id} is already running on this agent (redelivered dispatch)` };
}

/**
 * Wire statuses for the terminal messages, exactly as upstream sends them (spec 02 §5.3): a run
 * that returned a result is announced as `completed`/`Completed` even when it failed or timed out
 * (the DB holds the truth); preparation/runtime errors are `failed`/`Failed`; cancel is
 * `cancelled`/`Cancelled`.
 */
export function wireStatuses(outcome: { status: ExecutionStatus; phase: 'prepare' | 'runtime' | 'ran' }): {
  newStatus: 'completed' | 'failed' | 'cancelled';
  completionStatus: 'Completed' | 'Failed' | 'Cancelled';
} {
  if (outcome.status === 'cancelled') return { newStatus: 'cancelled', completionStatus: 'Cancelled' };
  if (outcome.phase !== 'ran') return { newStatus: 'failed', completionStatus: 'Failed' };
  return { newStatus: 'completed', completionStatus: 'Completed' };
}

/** spec 03 §6.1: first positive of execution, workflow task, action, else the configured default. */
export function resolveTimeoutSec(
  executionTimeout: number | null | undefined,
  workflowTask: unknown,
  actionTimeout: number | null | undefined,
  defaultSec: number,
): number {
  const wt =
    workflowTask !== null && typeof workflowTask === 'object'
      ? (workflowTask as { timeout_seconds?: unknown }).timeout_seconds
      : undefined;
  for (const v of [executionTimeout, typeof wt === 'number' ? wt : null, actionTimeout]) {
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  }
  return defaultSec;
}

/** `action_ref` up to the first `.` (spec 03 §1.1 step 5). */
export function packRefOf(actionRef: string): string {
  const dot = actionRef.indexOf('.');
  return dot < 0 ? actionRef : actionRef.slice(0, dot);
}
