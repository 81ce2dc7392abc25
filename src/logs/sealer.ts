/**
 * Sealing log streams through the API (spec 06 §2.5, §7.2) without letting the API decide an
 * execution's status. Upstream fails an exit-0 run on one failed seal and has no retry
 * (spec 06 §10.3); here the caller waits at most `waitMs` (upstream's drain bound,
 * `artifacts.log_finalization_timeout_ms`) and learns only whether the seal is done. A seal that
 * failed with a retryable error (connection, timeout, 408/429/5xx) or is still in flight goes
 * on in the background with backoff, bounded in attempts and in the number of streams held.
 *
 * While the API is known to be down (a retryable failure in the last backoff window), new
 * seals are queued without a request and without the wait, and the outage is logged once, not
 * once per stream: an agent without a reachable API keeps its per-execution cost flat. Queued
 * streams are not retried each on its own timer during the outage (issue 18: at c=16 that was
 * up to 9 failed requests per stream): one probe request per backoff step, and when it
 * succeeds the queue is released, spread over a quarter second.
 */
import type { Logger } from '../log';
import { ApiError, isRetryableApiError, sealLogStream, type ApiClient } from '../api';
import { backoffDelayMs } from '../util/backoff';
import { toError } from '../errors';
import { waitAtMost } from '../util/sleep';

export interface LogSealerOptions {
  api: ApiClient;
  log: Logger;
  /** Background attempts after the first one (default 8: ~1, 2, 4 … 60 s apart). */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Streams waiting for a background retry at most (oldest given up first). */
  maxPending?: number;
  now?: () => number;
}

interface PendingSeal {
  versionId: number;
  truncated: boolean;
  attempt: number;
  timer: NodeJS.Timeout | null;
}

const GIVE_UP_LOG_INTERVAL_MS = 60_000;

export class LogSealer {
  private readonly pending = new Map<number, PendingSeal>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Streams with a request in flight (not queued, even while in `pending`). */
  private readonly sending = new Set<number>();
  private stopped = false;
  /** The API failed retryably; until then new seals skip the immediate attempt. */
  private downUntil = 0;
  private outageFailures = 0;
  private givenUp = 0;
  private lastGiveUpLog = 0;
  /** During an outage: the one timer that sends the next probe (the oldest queued stream). */
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: LogSealerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Seal one stream; resolves true when sealed within `waitMs`, false otherwise (never rejects). */
  async seal(versionId: number, truncated: boolean, waitMs: number): Promise<boolean> {
    const entry: PendingSeal = { versionId, truncated, attempt: 0, timer: null };
    if (this.now() < this.downUntil) {
      entry.attempt = 1;
      this.schedule(entry, this.downUntil - this.now());
      return false;
    }
    const attempt = this.attempt(entry);
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), waitMs);
    });
    const first = await Promise.race([attempt, slow]);
    clearTimeout(timer);
    return first === true;
  }

  /** One request; on a retryable failure the stream is queued for a background retry. */
  private attempt(entry: PendingSeal): Promise<boolean> {
    this.sending.add(entry.versionId);
    const p = sealLogStream(this.opts.api, entry.versionId, entry.truncated).finally(() => this.sending.delete(entry.versionId)).then(
      () => {
        this.pending.delete(entry.versionId);
        if (this.outageFailures > 0) {
          this.opts.log.info({ failedAttempts: this.outageFailures, waiting: this.pending.size }, 'the Attune API seals log streams again');
          this.outageFailures = 0;
          this.downUntil = 0;
        }
        this.wakeQueued();
        return true;
      },
      (e: unknown) => {
        this.onFailure(entry, e);
        this.wakeQueued();
        return false;
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private onFailure(entry: PendingSeal, e: unknown): void {
    const maxRetries = this.opts.maxRetries ?? 8;
    if (this.stopped || !isRetryableApiError(e) || entry.attempt >= maxRetries) {
      this.giveUp(entry, e);
      return;
    }
    if (this.outageFailures === 0) {
      this.opts.log.warn(
        { artifactVersionId: entry.versionId, err: toError(e).message },
        'sealing log streams through the Attune API failed; they are retried in the background (check ATTUNE_API_URL and that the API is up)',
      );
    }
    this.outageFailures++;
    entry.attempt++;
    const delay = backoffDelayMs(entry.attempt - 1, this.opts.retryBaseMs ?? 1000, this.opts.retryMaxMs ?? 60_000);
    this.downUntil = Math.max(this.downUntil, this.now() + delay);
    this.schedule(entry, delay);
  }

  private schedule(entry: PendingSeal, delayMs: number): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    // The bound holds for every way into the queue: during a long outage new streams arrive
    // here straight from seal() (issue 18: the soak without an API grew by ~36 MiB of queued
    // streams, one per log stream, until the first probe failed).
    if (!this.pending.has(entry.versionId) && this.pending.size >= (this.opts.maxPending ?? 1000)) this.giveUpOldest();
    if (this.now() < this.downUntil && !this.stopped) {
      // Known outage: wait in the queue for the probe instead of a timer of its own.
      this.pending.set(entry.versionId, entry);
      this.armProbe();
      return;
    }
    // Spread the queue so a recovered API is not hit by every stream in the same millisecond.
    entry.timer = setTimeout(() => {
      entry.timer = null;
      void this.attempt(entry);
    }, delayMs + Math.floor(Math.random() * 250));
    entry.timer.unref();
    this.pending.set(entry.versionId, entry);
  }

  /** One timer for the whole outage: at its end the oldest queued stream is sent as the probe. */
  private armProbe(): void {
    if (this.probeTimer || this.stopped) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      const probe = [...this.pending.values()].find((p) => p.timer === null);
      if (probe) void this.attempt(probe);
    }, Math.max(0, this.downUntil - this.now()) + Math.floor(Math.random() * 250));
    this.probeTimer.unref();
  }

  /** After any answer: queued streams go out (API back) or wait for the next probe (still down). */
  private wakeQueued(): void {
    if (this.probeTimer || this.stopped) return;
    const queued = [...this.pending.values()].filter((p) => p.timer === null && !this.sending.has(p.versionId));
    if (queued.length === 0) return;
    if (this.now() < this.downUntil) this.armProbe();
    else for (const p of queued) this.schedule(p, 0);
  }

  private giveUp(entry: PendingSeal, e: unknown): void {
    this.pending.delete(entry.versionId);
    this.givenUp++;
    const now = this.now();
    // Rate-limited: during a long outage every stream ends here.
    if (now - this.lastGiveUpLog < GIVE_UP_LOG_INTERVAL_MS) return;
    this.lastGiveUpLog = now;
    this.opts.log.warn(
      { artifactVersionId: entry.versionId, attempts: entry.attempt + 1, status: e instanceof ApiError ? e.status : null, err: toError(e).message, streamsGivenUp: this.givenUp },
      'could not seal log streams; they stay unsealed (pending)',
    );
    this.givenUp = 0;
  }

  private giveUpOldest(): void {
    const oldest = this.pending.values().next().value;
    if (!oldest) return;
    if (oldest.timer) clearTimeout(oldest.timer);
    this.giveUp(oldest, new Error('too many log streams waiting to be sealed'));
  }

  /**
   * Shutdown: one last attempt for every queued stream, waiting at most `timeoutMs` for those
   * and for requests in flight; whatever is left stays unsealed and is named in one line.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    for (const entry of this.pending.values()) {
      if (this.sending.has(entry.versionId)) continue;
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
      void this.attempt(entry);
    }
    await waitAtMost(Promise.allSettled([...this.inFlight]), timeoutMs);
    if (this.pending.size > 0) {
      this.opts.log.warn({ artifactVersionIds: [...this.pending.keys()].slice(0, 100), count: this.pending.size }, 'agent stopping: these log streams could not be sealed and stay pending');
    }
  }
}
