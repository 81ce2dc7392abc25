/**
 * Output capture and interpretation (spec 03 §4.1–§4.3): the bounded collector, output-format
 * parsing and the error text derived from a non-zero exit.
 */
import { yaml } from '../util/yaml';
import type { OutputFormat } from './types';

/** Space reserved for the notice so it always fits (upstream `NOTICE_RESERVE_BYTES`). */
const NOTICE_RESERVE_BYTES = 128;

export type StreamName = 'stdout' | 'stderr';

export function truncationNotice(stream: StreamName): string {
  return `\n\n[OUTPUT TRUNCATED: ${stream} exceeded size limit]\n`;
}

export interface CollectedOutput {
  /** Lossy UTF-8 decoding of the kept bytes (invalid sequences → U+FFFD). */
  content: string;
  truncated: boolean;
  /** Total bytes received − data bytes kept; 0 when not truncated. */
  bytesTruncated: number;
}

/** Smallest arena: most actions print a few lines; it grows by doubling up to the limit. */
const MIN_ARENA_BYTES = 1024;

/**
 * `BoundedLogWriter`: keeps at most `max − 128` data bytes, then the notice once; everything
 * after is counted and dropped. Memory stays bounded by `maxBytes` whatever the child prints.
 *
 * The kept bytes are copied into one arena that grows by doubling (issue 18): chunks may be
 * views of a pipe read buffer that is reused for the next read, the result is decoded straight
 * from the arena (no `Buffer.concat` of up to `max_stdout_bytes`), and what `write` returns
 * are views of the arena, stable because bytes once written are never overwritten (a grown
 * arena is a new allocation; views of the old one stay valid).
 */
export class BoundedCollector {
  private arena: Buffer = Buffer.alloc(0);
  private keptBytes = 0; // data + notice, i.e. upstream `buffer.len()`
  private dataBytes = 0;
  private totalBytes = 0;
  private truncated = false;
  /** The notice chunk `write` returns (identity marks it for sinks that treat it apart). */
  readonly notice: Buffer;

  constructor(
    private readonly maxBytes: number,
    stream: StreamName,
  ) {
    this.notice = Buffer.from(truncationNotice(stream), 'utf8');
  }

  /** Feed one chunk; returns the bytes actually kept (for live log forwarding), possibly empty. */
  write(chunk: Buffer): Buffer[] {
    this.totalBytes += chunk.length;
    if (this.truncated) return [];
    const effectiveLimit = Math.max(0, this.maxBytes - NOTICE_RESERVE_BYTES);
    const remaining = Math.max(0, effectiveLimit - this.keptBytes);
    if (remaining === 0) return [this.addNotice()];
    if (chunk.length <= remaining) {
      this.dataBytes += chunk.length;
      return [this.keep(chunk)];
    }
    const kept = this.keep(chunk.subarray(0, remaining));
    this.dataBytes += kept.length;
    return [kept, this.addNotice()];
  }

  /** Copies `b` into the arena; returns the arena's view of it. */
  private keep(b: Buffer): Buffer {
    const end = this.keptBytes + b.length;
    if (end > this.arena.length) this.grow(end);
    b.copy(this.arena, this.keptBytes);
    const view = this.arena.subarray(this.keptBytes, end);
    this.keptBytes = end;
    return view;
  }

  private grow(needed: number): void {
    // Never more than the limit itself (data + notice ≤ max, or the notice alone when max < 128).
    const cap = Math.max(this.maxBytes, needed);
    let size = Math.max(MIN_ARENA_BYTES, this.arena.length * 2);
    while (size < needed) size *= 2;
    // Small arenas come from Node's shared pool (allocUnsafe), large ones are their own allocation.
    const next = Buffer.allocUnsafe(Math.min(size, cap));
    this.arena.copy(next, 0, 0, this.keptBytes);
    this.arena = next;
  }

  private addNotice(): Buffer {
    this.truncated = true;
    this.keep(this.notice);
    return this.notice;
  }

  result(): CollectedOutput {
    return {
      content: this.arena.toString('utf8', 0, this.keptBytes),
      truncated: this.truncated,
      bytesTruncated: this.truncated ? this.totalBytes - this.dataBytes : 0,
    };
  }
}

/** Unicode White_Space, the set Rust's `char::is_whitespace` uses (U+FEFF is not in it). */
function isRustWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/**
 * Rust `str::trim` (Unicode White_Space; unlike JS `trim`, U+FEFF is not whitespace). Scans
 * inwards from both ends (issue 18): a `[…]+$` regex tries every position of the string, ~8 ms
 * on a 10 MiB captured stdout; this touches only the whitespace it removes.
 */
export function rustTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isRustWhitespace(s.charCodeAt(start))) start++;
  while (end > start && isRustWhitespace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** Rust `str::lines`: split on `\n`, strip one trailing `\r`, no final empty line. */
export function rustLines(s: string): string[] {
  if (s === '') return [];
  const parts = s.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/**
 * serde_json and serde_yaml stop at a recursion limit of 128 (`RecursionLimitExceeded`), so
 * upstream never parses output nested deeper than 127 arrays/objects. V8's JSON.parse has no
 * such limit, but the parsed value must later go through JSON.stringify (DB write, completion
 * message), which overflows the stack at a few thousand levels: keep upstream's limit.
 */
export const MAX_OUTPUT_NESTING = 127;

/** Nesting depth of arrays/objects, iteratively (no recursion on hostile input); stops early past `limit`. */
export function nestingExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function withinLimit(parsed: { value: unknown }): { value: unknown } | null {
  return nestingExceeds(parsed.value, MAX_OUTPUT_NESTING) ? null : parsed;
}

function tryJson(text: string): { value: unknown } | null {
  try {
    return withinLimit({ value: JSON.parse(text) as unknown });
  } catch {
    return null;
  }
}

/**
 * `parse_output` (spec 03 §4.2). Returns null when nothing was parsed (not an error). Callers
 * apply it only after exit 0 without timeout/cancel.
 */
export function parseOutput(stdout: string, format: OutputFormat): { value: unknown } | null {
  const trimmed = rustTrim(stdout);
  if (trimmed === '') return null;
  switch (format) {
    case 'text':
      return null;
    case 'json': {
      const whole = tryJson(trimmed);
      if (whole) return whole;
      const lines = rustLines(trimmed);
      const last = lines[lines.length - 1];
      return last === undefined ? null : tryJson(last);
    }
    case 'yaml': {
      try {
        // logLevel 'error': without it the yaml package reports an action's unknown tags or
        // directives through process.emitWarning, i.e. on the agent's own stderr ('silent'
        // would also swallow parse errors and return a partial document).
        const value = yaml().parse(trimmed, { logLevel: 'error' }) as unknown;
        return value === undefined ? null : withinLimit({ value });
      } catch {
        return null;
      }
    }
    case 'jsonl': {
      const items: unknown[] = [];
      for (const line of rustLines(trimmed)) {
        const parsed = tryJson(line);
        if (parsed) items.push(parsed.value);
      }
      return items.length === 0 ? null : { value: items };
    }
  }
}

/** spec 03 §4.3: the error of a non-zero exit (stderr untrimmed; > 5 lines → last line). */
export function exitErrorText(exitCode: number, stderr: string): string {
  if (stderr === '') return `Command exited with code ${exitCode}`;
  const lines = rustLines(stderr);
  if (lines.length > 5) return lines[lines.length - 1] ?? '';
  return stderr;
}
