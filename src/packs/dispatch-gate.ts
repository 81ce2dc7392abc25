/**
 * The dispatch side of the API pack transport (spec 03 §1.1 step 5, spec 06 §6.1, §7.6): before
 * an execution pinned to a release is marked `running`, the release must be local.
 *
 * - ready → run. The release is held (never evicted) until the execution is no longer running.
 * - `invalid` (digest mismatch, an archive the rules refuse): the issue asks for the execution
 *   to FAIL with a clear error, where upstream leaves the row `scheduled` until the executor's
 *   scheduled-timeout monitor fails it with no reason. The dispatch goes on to `running` and
 *   prepare.ts records `failed` with `Failed to prepare execution context: Failed to
 *   materialize pinned release <rid> for execution <id>: <reason>`. Nothing is cached.
 * - `unavailable` (API down, 5xx, timeout, closed mid-body): as upstream nothing is written
 *   and the row stays `scheduled`; unlike upstream (ack and forget) the dispatch is requeued
 *   after a backoff so the execution still runs when the API comes back, up to `giveUpMs`
 *   (below the executor's 300 s scheduled timeout); then acked, left to that monitor. One error
 *   line per execution at the first failure, debug lines for the retries.
 */
import type { Logger } from '../log';
import { toError } from '../errors';
import { sleep } from '../util/sleep';
import type { ApiPackTransport } from './api-transport';
import { PackReleaseError } from './errors';
import { releasePackDir } from './release-layout';

export type GateDecision = 'run' | 'requeue' | 'ack';

export interface PinnedRow {
  id: number;
  actionRef: string;
  packRelease: number | null;
  packReleaseDigest: string | null;
}

export type PackDirAnswer = { ok: true; packDir: string } | { ok: false; error: string };

/** What prepare.ts needs (kept tiny so worker/ does not depend on the transport). */
export interface PackReleaseDirs {
  packDirFor(row: PinnedRow): PackDirAnswer | null;
}

export interface PackReleaseGateOptions {
  transport: ApiPackTransport;
  packsBaseDir: string;
  log: Logger;
  /** Ids of the executions running in this process (WorkerService.runningIds). */
  runningExecutionIds: () => readonly number[];
  signal?: AbortSignal;
  giveUpMs?: number;
  maxBackoffMs?: number;
  initialBackoffMs?: number;
}

const HOLD_GRACE_MS = 60_000;

export class PackReleaseGate implements PackReleaseDirs {
  private readonly holds = new Map<number, { release: () => void; at: number; seenRunning: boolean }>();
  private readonly failures = new Map<number, { error: string; at: number }>();
  private readonly retries = new Map<number, { firstAt: number; count: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: PackReleaseGateOptions) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  async beforeRun(row: PinnedRow): Promise<GateDecision> {
    const digest = row.packReleaseDigest;
    if (digest === null) return 'run'; // unpinned: legacy {packs_base_dir}/{pack_ref} (prepare.ts)
    this.sweep();
    const packRef = row.actionRef.split('.')[0] as string;
    const release = this.opts.transport.cache.acquire(digest);
    try {
      await this.opts.transport.syncRelease(packRef, row.packRelease, digest);
      this.holds.get(row.id)?.release();
      this.holds.set(row.id, { release, at: Date.now(), seenRunning: false });
      this.retries.delete(row.id);
      this.failures.delete(row.id);
      return 'run';
    } catch (e) {
      release();
      return this.onFailure(row, e);
    }
  }

  private async onFailure(row: PinnedRow, e: unknown): Promise<GateDecision> {
    const log = this.opts.log.child({ executionId: row.id, actionRef: row.actionRef, releaseId: row.packRelease, digest: row.packReleaseDigest });
    const error = `Failed to materialize pinned release ${row.packRelease ?? 'null'} for execution ${row.id}: ${toError(e).message}`;
    if (this.opts.signal?.aborted) return 'requeue';
    if (e instanceof PackReleaseError && e.kind === 'invalid') {
      log.error({ error }, 'pinned pack release is invalid; the execution fails');
      this.retries.delete(row.id);
      this.failures.set(row.id, { error, at: Date.now() });
      return 'run';
    }
    const now = Date.now();
    const state = this.retries.get(row.id) ?? { firstAt: now, count: 0 };
    state.count++;
    this.retries.set(row.id, state);
    if (state.count === 1) {
      log.error({ error }, 'pinned pack release could not be fetched from the Attune API; the execution stays scheduled and is retried (check ATTUNE_API_URL and the API)');
    } else {
      log.debug({ error, attempt: state.count }, 'pinned pack release still unavailable');
    }
    if (now - state.firstAt >= (this.opts.giveUpMs ?? 240_000)) {
      this.retries.delete(row.id);
      log.warn({ error, attempts: state.count }, 'gave up fetching the pinned pack release; the execution stays scheduled (the executor fails it at its scheduled timeout)');
      return 'ack';
    }
    const backoff = Math.min(this.opts.maxBackoffMs ?? 30_000, (this.opts.initialBackoffMs ?? 1000) * 2 ** (state.count - 1));
    await sleep(backoff, this.opts.signal);
    return 'requeue';
  }

  packDirFor(row: PinnedRow): PackDirAnswer | null {
    const digest = row.packReleaseDigest;
    if (digest === null) return null;
    // Called while the execution runs (prepare.ts): from now on "not running" means finished.
    const hold = this.holds.get(row.id);
    if (hold) hold.seenRunning = true;
    // Kept (not consumed) so a prepare retried after a PostgreSQL blip gets the same answer.
    const failure = this.failures.get(row.id);
    if (failure !== undefined) return { ok: false, error: failure.error };
    if (!this.opts.transport.cache.isReady(digest)) {
      return {
        ok: false,
        error: `Pack release ${row.packRelease ?? 'null'} (${digest}) is no longer in the local pack cache (removed by pack.deleted?) (packs_base_dir=${this.opts.packsBaseDir})`,
      };
    }
    return { ok: true, packDir: releasePackDir(this.opts.packsBaseDir, digest) };
  }

  /** Release holds of executions that are no longer running (called on each dispatch and every 30 s). */
  sweep(): void {
    const running = new Set(this.opts.runningExecutionIds());
    const now = Date.now();
    for (const [id, h] of this.holds) {
      if (running.has(id)) {
        h.seenRunning = true;
        continue;
      }
      // Not running: finished, or not started yet (the grace covers dispatch → `running`).
      if (h.seenRunning || now - h.at > HOLD_GRACE_MS) {
        h.release();
        this.holds.delete(id);
      }
    }
    for (const [id, r] of this.retries) if (now - r.firstAt > 15 * 60_000) this.retries.delete(id);
    for (const [id, f] of this.failures) if (now - f.at > 10 * 60_000) this.failures.delete(id);
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}
