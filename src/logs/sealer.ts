/**
 * Sealing log streams through the API (spec 06 §2.5, §7.2) without letting the API decide an
 * execution's status. Upstream fails an exit-0 run on one failed seal and has no retry
 * (spec 06 §10.3); here the caller waits at most `waitMs` (upstream's drain bound,
 * `artifacts.log_finalization_timeout_ms`) and learns only whether the seal is done. A seal that
 * failed with a retryable error (connection, timeout, 408/429/5xx) or is still in flight goes
 * on in the background with backoff, bounded in attempts and in the number of streams held.
 */
import type { Logger } from '../log';
import { ApiError, isRetryableApiError, sealLogStream, type ApiClient } from '../api';
import { backoffDelayMs } from '../util/backoff';
import { toError } from '../errors';

export interface LogSealerOptions {
  api: ApiClient;
  log: Logger;
  /** Background attempts after the first one (default 8: ~1, 2, 4 … 60 s apart). */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Streams waiting for a background retry at most (oldest given up first). */
  maxPending?: number;
}

interface PendingSeal {
  versionId: number;
  truncated: boolean;
  attempt: number;
  timer: NodeJS.Timeout | null;
}

export class LogSealer {
  private readonly pending = new Map<number, PendingSeal>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly opts: LogSealerOptions) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Seal one stream; resolves true when sealed within `waitMs`, false otherwise (never rejects). */
  async seal(versionId: number, truncated: boolean, waitMs: number): Promise<boolean> {
    const entry: PendingSeal = { versionId, truncated, attempt: 0, timer: null };
    const attempt = this.attempt(entry);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), waitMs);
    });
    const first = await Promise.race([attempt, timedOut]);
    clearTimeout(timer);
    return first === true;
  }

  /** One request; on a retryable failure the stream is queued for a background retry. */
  private attempt(entry: PendingSeal): Promise<boolean> {
    const p = sealLogStream(this.opts.api, entry.versionId, entry.truncated).then(
      () => {
        if (entry.attempt > 0) this.opts.log.info({ artifactVersionId: entry.versionId, attempt: entry.attempt }, 'log stream sealed after a retry');
        this.pending.delete(entry.versionId);
        return true;
      },
      (e: unknown) => {
        this.onFailure(entry, e);
        return false;
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private onFailure(entry: PendingSeal, e: unknown): void {
    const err = toError(e);
    const maxRetries = this.opts.maxRetries ?? 8;
    if (this.stopped || !isRetryableApiError(e) || entry.attempt >= maxRetries) {
      this.pending.delete(entry.versionId);
      const status = e instanceof ApiError ? e.status : null;
      this.opts.log.warn(
        { artifactVersionId: entry.versionId, attempts: entry.attempt + 1, status, err: err.message },
        'could not seal the log stream; it stays unsealed (pending) — check ATTUNE_API_URL and that the Attune API is up',
      );
      return;
    }
    if (entry.attempt === 0) {
      this.opts.log.warn({ artifactVersionId: entry.versionId, err: err.message }, 'sealing the log stream failed; retrying in the background');
      const max = this.opts.maxPending ?? 1000;
      if (this.pending.size >= max) this.giveUpOldest();
    }
    entry.attempt++;
    const delay = backoffDelayMs(entry.attempt - 1, this.opts.retryBaseMs ?? 1000, this.opts.retryMaxMs ?? 60_000);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      void this.attempt(entry);
    }, delay);
    entry.timer.unref();
    this.pending.set(entry.versionId, entry);
  }

  private giveUpOldest(): void {
    const oldest = this.pending.values().next().value;
    if (!oldest) return;
    if (oldest.timer) clearTimeout(oldest.timer);
    this.pending.delete(oldest.versionId);
    this.opts.log.warn({ artifactVersionId: oldest.versionId }, 'too many log streams waiting to be sealed; giving up on the oldest');
  }

  /**
   * Shutdown: one last attempt for every queued stream, waiting at most `timeoutMs` for those
   * and for requests in flight; whatever is left stays unsealed and is named in one line.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    for (const entry of this.pending.values()) {
      if (entry.timer) {
        clearTimeout(entry.timer);
        entry.timer = null;
        void this.attempt(entry);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (this.pending.size > 0) {
      this.opts.log.warn({ artifactVersionIds: [...this.pending.keys()] }, 'agent stopping: these log streams could not be sealed and stay pending');
    }
  }
}
