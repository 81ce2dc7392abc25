/**
 * Mirror of action output to the agent's own stdout/stderr as NDJSON records (spec 06 §4;
 * upstream `runtime_log_mirror.rs`, `action_output_mirror.rs`), so `kubectl logs` of a worker
 * pod shows it. Line-framed, lines over 128 KiB split into fragments, capped at the stream's
 * byte limit, bounded delivery (records are dropped, never buffered without bound).
 */
import { isUtf8 } from 'node:buffer';
import type { Writable } from 'node:stream';

export const MIRROR_FRAGMENT_BYTES = 131_072;
export const MIRROR_QUEUE_RECORDS = 1_024;
const CAP_TEXT = 'Runtime log mirror reached its configured byte limit';

/** Envelope fields of every record (spec 06 §4.2), in upstream's order. */
export interface MirrorSource {
  executionId: number;
  parentExecutionId: number | null;
  actionRef: string;
  packRef: string;
  traceTag: string | null;
  workerId: number;
  workerName: string;
  workerInstance: string;
}

export interface MirrorOutput {
  readonly out: Writable;
  /** Set once a write failed: mirroring of this stream is off for the rest of the process. */
  disabled: boolean;
  /** Records written while the destination asked for a drain. */
  queued: number;
  onFailure: (err: Error) => void;
}

export function createMirrorOutput(out: Writable, onFailure: (err: Error) => void): MirrorOutput {
  const m: MirrorOutput = { out, disabled: false, queued: 0, onFailure };
  out.on('drain', () => {
    m.queued = 0;
  });
  out.on('error', (e: Error) => {
    if (m.disabled) return;
    m.disabled = true;
    onFailure(e);
  });
  return m;
}

export class RuntimeLogMirror {
  private offset = 0;
  /** Start offset and bytes of the line not yet ended by `\n`. */
  private lineStart = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fragment = 0;
  private capped = false;

  constructor(
    private readonly source: MirrorSource,
    private readonly stream: 'stdout' | 'stderr',
    private readonly output: MirrorOutput,
    /** Input bytes after which the cap record is written; null = no cap. */
    private readonly maxBytes: number | null,
  ) {}

  write(chunk: Buffer): void {
    if (this.capped || this.output.disabled) return;
    let data = chunk;
    if (this.maxBytes !== null && this.offset + data.length > this.maxBytes) data = data.subarray(0, Math.max(0, this.maxBytes - this.offset));
    let from = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, from);
      if (nl < 0) break;
      this.appendPending(data.subarray(from, nl));
      this.endLine(1);
      from = nl + 1;
    }
    if (from < data.length) this.appendPending(data.subarray(from));
    if (data.length < chunk.length) this.cap();
  }

  /** The stream hit its size limit (the engine's truncation point). */
  cap(): void {
    if (this.capped) return;
    if (this.pendingBytes > 0) this.endLine(0);
    this.emit({ start: this.offset, end: this.offset, fragment: 0, continued: false, truncated: true, body: Buffer.from(CAP_TEXT), forceText: true });
    this.capped = true;
  }

  /** End of stream: a final unterminated line is emitted. */
  end(): void {
    if (!this.capped && this.pendingBytes > 0) this.endLine(0);
  }

  private appendPending(part: Buffer): void {
    let p = part;
    while (this.pendingBytes + p.length > MIRROR_FRAGMENT_BYTES) {
      const take = MIRROR_FRAGMENT_BYTES - this.pendingBytes;
      this.pending.push(p.subarray(0, take));
      this.pendingBytes += take;
      p = p.subarray(take);
      this.flushFragment(true);
    }
    if (p.length > 0) {
      this.pending.push(Buffer.from(p));
      this.pendingBytes += p.length;
    }
  }

  private flushFragment(continued: boolean): void {
    const body = Buffer.concat(this.pending, this.pendingBytes);
    const start = this.lineStart;
    this.emit({ start, end: start + body.length, fragment: this.fragment, continued, truncated: false, body });
    this.offset = start + body.length;
    this.lineStart = this.offset;
    this.pending = [];
    this.pendingBytes = 0;
    this.fragment = continued ? this.fragment + 1 : 0;
  }

  /** `newlineBytes`: 1 when a `\n` ended the line (counted in offsets, not in the body). */
  private endLine(newlineBytes: number): void {
    let body = Buffer.concat(this.pending, this.pendingBytes);
    const start = this.lineStart;
    const end = start + body.length;
    if (body.length > 0 && body[body.length - 1] === 0x0d) body = body.subarray(0, body.length - 1);
    this.emit({ start, end, fragment: this.fragment, continued: false, truncated: false, body });
    this.offset = end + newlineBytes;
    this.lineStart = this.offset;
    this.pending = [];
    this.pendingBytes = 0;
    this.fragment = 0;
  }

  private emit(r: { start: number; end: number; fragment: number; continued: boolean; truncated: boolean; body: Buffer; forceText?: boolean }): void {
    const o = this.output;
    if (o.disabled) return;
    if (o.queued >= MIRROR_QUEUE_RECORDS) return; // upstream drops records when its queue is full
    const s = this.source;
    const record: Record<string, unknown> = {
      event: 'attune.runtime_log',
      observed_at: new Date().toISOString(),
      source_kind: 'execution',
      execution_id: s.executionId,
      parent_execution_id: s.parentExecutionId,
      action_ref: s.actionRef,
      pack_ref: s.packRef,
      trace_tag: s.traceTag,
      worker_id: s.workerId,
      worker_name: s.workerName,
      worker_instance: s.workerInstance,
      source_stream: this.stream,
      byte_start: r.start,
      byte_end: r.end,
      fragment_index: r.fragment,
      continued: r.continued,
      truncated: r.truncated,
    };
    Object.assign(record, describeBody(r.body, r.fragment === 0 && !r.continued && !r.forceText));
    try {
      if (!o.out.write(`${JSON.stringify(record)}\n`)) o.queued++;
    } catch (e) {
      o.disabled = true;
      o.onFailure(e as Error);
    }
  }
}

function describeBody(body: Buffer, mayBeJson: boolean): Record<string, unknown> {
  if (!isUtf8(body)) return { body_type: 'bytes', body_encoding: 'base64', body: body.toString('base64') };
  const text = body.toString('utf8');
  if (mayBeJson && text.trimStart().startsWith('{')) {
    try {
      const v = JSON.parse(text) as unknown;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { body_type: 'json', body: v };
    } catch {
      // not JSON: text
    }
  }
  return { body_type: 'text', body: text };
}
