/**
 * The API side of `object_segments` log streams (spec 06 §2.6, §2.7): one segment writer per
 * stream, and after the run the last segment and the seal, waited for at most the drain bound
 * (`artifacts.log_finalization_timeout_ms`). What is not done by then goes on in the background
 * (bounded: each writer by its own retry policy; the background streams together hold at most
 * `backgroundBudgetBytes`, the oldest is aborted beyond; shutdown aborts the rest); the run
 * reports `logs_incomplete` and its true status. Upstream drops the writer at that point, so
 * its logs of a slow API are never sealed.
 */
import type { Logger } from '../log';
import { putLogSegment, type ApiClient } from '../api';
import type { LogSealer } from './sealer';
import { SegmentedLogWriter, type SegmentPolicy } from './segment-writer';
import type { ByteTarget } from './stream-sink';
import { waitAtMost } from '../util/sleep';

/** During an outage every execution has incomplete logs: one line per minute, with a count. */
const INCOMPLETE_LOG_INTERVAL_MS = 60_000;

export interface IncompleteStream {
  executionId: number;
  stream: string;
  droppedBytes: number;
  error: string | null;
}

export class SegmentUploads {
  private readonly background = new Set<SegmentedLogWriter>();
  private lastIncompleteLog = 0;
  private suppressedIncomplete = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly policy: SegmentPolicy,
    private readonly sealer: LogSealer,
    private readonly log: Logger,
    /** Memory the background uploads may hold together (agent.ts: max_concurrent_tasks × log_segment_max_bytes). */
    private readonly backgroundBudgetBytes: number,
  ) {}

  get backgroundCount(): number {
    return this.background.size;
  }

  writer(artifactVersionId: number): SegmentedLogWriter {
    return new SegmentedLogWriter(this.policy, (seq, bytes, opts) => putLogSegment(this.api, artifactVersionId, seq, bytes, opts));
  }

  /**
   * Last segment + seal of one stream. Resolves true when the stream is sealed and complete
   * within `waitMs`; false when it failed, was cut at the bound, or is still going on.
   */
  async finish(writer: SegmentedLogWriter, artifactVersionId: number, truncatedNotice: boolean, waitMs: number): Promise<boolean> {
    const started = Date.now();
    const drained = writer.drained().then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    const inTime = await Promise.race([drained, slow]);
    clearTimeout(timer);
    if (!inTime) {
      this.continueInBackground(writer, artifactVersionId, truncatedNotice);
      return false;
    }
    if (writer.failure) return false;
    const sealed = await this.sealer.seal(artifactVersionId, truncatedNotice || writer.overflowed, Math.max(0, waitMs - (Date.now() - started)));
    return sealed && !writer.overflowed;
  }

  private continueInBackground(writer: SegmentedLogWriter, artifactVersionId: number, truncatedNotice: boolean): void {
    this.background.add(writer);
    let held = 0;
    for (const w of this.background) held += w.pendingBytes;
    let abandoned = 0;
    for (const oldest of this.background) {
      if (held <= this.backgroundBudgetBytes || oldest === writer) break;
      held -= oldest.pendingBytes;
      oldest.abort('too many log bytes waiting for the Attune API in the background');
      this.background.delete(oldest);
      abandoned++;
    }
    if (abandoned > 0) {
      this.log.warn({ abandoned, budgetBytes: this.backgroundBudgetBytes }, 'log segments still uploading after their run exceed the memory budget; the oldest streams are abandoned (they stay unsealed)');
    }
    void writer.drained().then(async () => {
      this.background.delete(writer);
      if (writer.failure) return;
      // The sealer retries a retryable failure in the background too.
      await this.sealer.seal(artifactVersionId, truncatedNotice || writer.overflowed, 0);
    });
  }

  /** One warning for streams that lost bytes, rate-limited (the count of the quiet ones rides along). */
  reportIncomplete(streams: readonly IncompleteStream[], uploadBoundBytes: number): void {
    if (streams.length === 0) return;
    const now = Date.now();
    if (now - this.lastIncompleteLog < INCOMPLETE_LOG_INTERVAL_MS) {
      this.suppressedIncomplete += streams.length;
      return;
    }
    this.lastIncompleteLog = now;
    this.log.warn(
      { streams, uploadBoundBytes, sinceLastReport: this.suppressedIncomplete },
      'log segments could not all be uploaded to the Attune API (down or slow? check ATTUNE_API_URL); the logs of this execution are incomplete',
    );
    this.suppressedIncomplete = 0;
  }

  /** Shutdown: wait at most `timeoutMs` for background uploads, then abort what is left. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.background.size === 0) return;
    await waitAtMost(Promise.all([...this.background].map((w) => w.drained())), timeoutMs);
    if (this.background.size > 0) {
      this.log.warn({ count: this.background.size }, 'agent stopping: log segments still uploading are abandoned; those streams stay unsealed');
      for (const w of this.background) w.abort('agent stopping');
      this.background.clear();
    }
  }
}

/**
 * Keeps a bounded copy of what goes to `inner` (for the delayed, redacted mirror of actions
 * with secret outputs, spec 06 §4.4, which reads the stream after the run: in object mode there
 * is no local file to read).
 */
export class RecordingTarget implements ByteTarget {
  private readonly kept: Buffer[] = [];
  private size = 0;

  constructor(
    readonly inner: ByteTarget,
    private readonly maxBytes: number,
  ) {}

  get failure(): Error | null {
    return this.inner.failure;
  }

  append(bytes: Buffer): void {
    if (this.size < this.maxBytes) {
      const b = Buffer.from(bytes.subarray(0, this.maxBytes - this.size));
      this.kept.push(b);
      this.size += b.length;
    }
    this.inner.append(bytes);
  }

  end(): Promise<void> {
    return this.inner.end();
  }

  text(): string {
    return Buffer.concat(this.kept, this.size).toString('utf8');
  }
}
