/**
 * `object_segments` log stream target (spec 06 §2.6; upstream `log_stream.rs`
 * `SegmentedLogWriter`, `retry_log_segment_commit`, `log_segment_retry_delay_ms`): bytes are
 * buffered and committed as immutable segments, one at a time, sequence 0, 1, 2… A segment is
 * cut when the buffer reaches the target size (which then doubles, capped at
 * `log_segment_max_bytes`) or `flush_interval_ms` after its first byte (target back to
 * `log_segment_initial_bytes`). A commit is retried with the same sequence and bytes while the
 * error is retryable, each attempt cut at `retry_attempt_timeout_ms`, with upstream's jittered
 * backoff; a final failure is latched and nothing more is sent.
 *
 * The bound is upstream's: at most `log_segment_max_bytes` accepted-but-uncommitted bytes per
 * stream besides the segment in flight. Upstream blocks the capture loop (and so the child's
 * pipe) when it is reached; here the sink never blocks: from the first byte that does not fit,
 * the rest of the stream is dropped (the stream keeps an exact prefix, sealed `truncated`),
 * which the run reports as `logs_incomplete`. The child is never slowed by the API.
 */
import { ApiError, isRetryableApiError } from '../api';
import { toError } from '../errors';
import type { ByteTarget } from './stream-sink';

export interface SegmentPolicy {
  initialBytes: number;
  maxBytes: number;
  flushIntervalMs: number;
  retryMaxAttempts: number;
  attemptTimeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** Commit one segment; rejects with an ApiError (retryable or not). */
export type CommitSegment = (sequence: number, bytes: Buffer, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<void>;

/** Before attempt k+1: a whole number of ms, uniform in [ceil(c/2), c], c = min(initial·2^(k−1), max). */
export function segmentRetryDelayMs(failedAttempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const c = Math.min(maxMs, initialMs * 2 ** Math.max(0, failedAttempt - 1));
  const low = Math.ceil(c / 2);
  return low + Math.floor(random() * (c - low + 1));
}

export class SegmentedLogWriter implements ByteTarget {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private targetBytes: number;
  private sequence = 0;
  private committing = false;
  private inFlightBytes = 0;
  private flushDue = false;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
  private readonly abortCtl = new AbortController();
  private error: Error | null = null;
  private drainWaiters: (() => void)[] = [];
  /** Bytes dropped because the bound was hit (the stream is a prefix of what was printed). */
  droppedBytes = 0;
  committedBytes = 0;
  segments = 0;

  constructor(
    private readonly policy: SegmentPolicy,
    private readonly commit: CommitSegment,
  ) {
    this.targetBytes = policy.initialBytes;
  }

  /** Latched commit failure: the stream is incomplete and must not be sealed. */
  get failure(): Error | null {
    return this.error;
  }

  /** Accepted bytes not committed yet (buffered + the segment in flight): the memory this stream holds. */
  get pendingBytes(): number {
    return this.buffered + this.inFlightBytes;
  }

  /** Bytes were dropped at the bound (the stream is sealed as truncated). */
  get overflowed(): boolean {
    return this.droppedBytes > 0;
  }

  append(bytes: Buffer): void {
    if (this.ended || this.error !== null) return;
    if (this.droppedBytes > 0) {
      this.droppedBytes += bytes.length;
      return;
    }
    const room = this.policy.maxBytes - this.buffered;
    const kept = bytes.length <= room ? bytes : bytes.subarray(0, room);
    if (kept.length < bytes.length) this.droppedBytes += bytes.length - kept.length;
    if (kept.length > 0) {
      // Copy: the engine's chunk may be a view into a pooled buffer.
      this.chunks.push(Buffer.from(kept));
      this.buffered += kept.length;
      if (this.timer === null) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.flushDue = true;
          this.pump();
        }, this.policy.flushIntervalMs);
        this.timer.unref();
      }
    }
    this.pump();
  }

  /** No more bytes: what is buffered is committed (reason `seal`) without waiting for the interval. */
  end(): Promise<void> {
    this.ended = true;
    this.pump();
    return Promise.resolve();
  }

  /** Resolves once everything accepted is committed, or the writer failed / was aborted. */
  drained(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Upstream drops the writer: the commit in flight is abandoned, buffered bytes are lost. */
  abort(reason = 'log segment writer aborted'): void {
    if (this.abortCtl.signal.aborted) return;
    this.ended = true;
    this.error ??= new Error(reason);
    this.abortCtl.abort();
    this.clear();
  }

  private isSettled(): boolean {
    return this.error !== null || (this.ended && this.buffered === 0 && !this.committing);
  }

  private pump(): void {
    if (this.committing || this.error !== null) return this.settle();
    let take: number;
    let next: number;
    if (this.buffered >= this.targetBytes) {
      take = this.targetBytes; // reason `size`
      next = Math.min(this.targetBytes * 2, this.policy.maxBytes);
    } else if ((this.flushDue || this.ended) && this.buffered > 0) {
      take = this.buffered; // reason `interval` / `seal`
      next = this.policy.initialBytes;
    } else {
      return this.settle();
    }
    this.flushDue = false;
    const bytes = this.cut(take);
    this.committing = true;
    this.inFlightBytes = bytes.length;
    const sequence = this.sequence;
    this.commitWithRetry(sequence, bytes).then(
      () => {
        this.committing = false;
        this.inFlightBytes = 0;
        this.sequence = sequence + 1;
        this.segments++;
        this.committedBytes += bytes.length;
        this.targetBytes = next;
        this.pump();
      },
      (e: unknown) => {
        this.committing = false;
        this.inFlightBytes = 0;
        this.error ??= new Error(`log segment writer failed: ${toError(e).message}`);
        this.clear();
        this.settle();
      },
    );
  }

  private cut(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    if (this.buffered === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return head;
  }

  private async commitWithRetry(sequence: number, bytes: Buffer): Promise<void> {
    const p = this.policy;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.commit(sequence, bytes, { timeoutMs: p.attemptTimeoutMs, signal: this.abortCtl.signal });
        return;
      } catch (e) {
        if (this.abortCtl.signal.aborted) throw e;
        // 409 (conflict), 413, 400 and other statuses are final; transport errors, 408, 429, 5xx and timeouts are retried.
        if (!isRetryableApiError(e) || attempt >= p.retryMaxAttempts) throw e;
        await this.sleep(segmentRetryDelayMs(attempt, p.initialBackoffMs, p.maxBackoffMs));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.abortCtl.signal;
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(new ApiError('rejected', 'log segment writer aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private clear(): void {
    this.chunks = [];
    this.buffered = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private settle(): void {
    if (!this.isSettled()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
