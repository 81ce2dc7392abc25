/**
 * One log stream behind the engine's OutputSink port, whatever holds its bytes (a shared file,
 * or segments uploaded through the API): secret values are replaced on the way in
 * (stream-redactor.ts), the mirror sees the same redacted bytes, and the truncation notice
 * (spec 06 §2.8) is remembered for `seal?truncated=true`.
 */
import type { OutputSink } from '../execution/log-sink';
import type { RuntimeLogMirror } from './mirror';
import type { StreamRedactor } from './stream-redactor';

/** Where a stream's bytes go. `append` never throws; the first failure is kept in `failure`. */
export interface ByteTarget {
  append(bytes: Buffer): void;
  /** No more bytes; resolves when the target is closed locally (never waits for the network). */
  end(): Promise<void>;
  readonly failure: Error | null;
}

export interface LogStreamSinkOptions {
  target: ByteTarget;
  redactor: StreamRedactor | null;
  mirror: RuntimeLogMirror | null;
}

export class LogStreamSink implements OutputSink {
  private ended = false;
  private endPromise: Promise<void> | null = null;
  /** The truncation notice was written (→ `seal?truncated=true`). */
  truncated = false;
  bytesWritten = 0;

  constructor(private readonly opts: LogStreamSinkOptions) {}

  get target(): ByteTarget {
    return this.opts.target;
  }

  write(chunk: Buffer): void {
    if (this.ended) return;
    const bytes = this.opts.redactor ? this.opts.redactor.push(chunk) : chunk;
    this.append(bytes);
    this.opts.mirror?.write(bytes);
  }

  writeNotice(notice: Buffer): void {
    if (this.ended) return;
    this.flushRedactor();
    this.truncated = true;
    this.append(notice);
    this.opts.mirror?.cap();
  }

  seal(): Promise<void> {
    return this.end();
  }

  abandon(): Promise<void> {
    return this.end();
  }

  get failed(): boolean {
    return this.opts.target.failure !== null;
  }

  get failure(): Error | null {
    return this.opts.target.failure;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0 || this.opts.target.failure !== null) return;
    this.bytesWritten += bytes.length;
    this.opts.target.append(bytes);
  }

  private flushRedactor(): void {
    const rest = this.opts.redactor?.flush();
    if (rest && rest.length > 0) {
      this.append(rest);
      this.opts.mirror?.write(rest);
    }
  }

  /** Idempotent; never rejects (a failed write is reported through `failed`). */
  private end(): Promise<void> {
    if (!this.ended) {
      this.flushRedactor();
      this.opts.mirror?.end();
      this.ended = true;
      this.endPromise = this.opts.target.end();
    }
    return this.endPromise as Promise<void>;
  }
}
