/**
 * Streaming replacement of known secret values in log bytes (our addition; upstream stores log
 * streams unredacted, spec 06 §2.10). A value split across two pipe reads is still found: the
 * last `max(secret length) − 1` bytes of every chunk are held back until the next chunk (or
 * the end) shows whether they start a secret.
 */

/** Upstream's redaction text for log records (`action_output_mirror.rs` "[REDACTED]"). */
export const LOG_REDACTION_MARKER = '[REDACTED]';

export interface StreamRedactor {
  /** Feed one chunk; returns the bytes that are safe to emit now (possibly empty). */
  push(chunk: Buffer): Buffer;
  /** End of stream: everything still held, redacted. */
  flush(): Buffer;
}

/**
 * The strings a secret parameter value can appear as in output: a string as is (and its
 * JSON-escaped form when that differs), other JSON compact, plus every string leaf of an
 * object/array. Empty strings are dropped.
 */
export function secretNeedles(values: readonly unknown[]): string[] {
  const out = new Set<string>();
  const add = (s: string): void => {
    if (s !== '') out.add(s);
  };
  const visit = (v: unknown, depth: number): void => {
    if (v === null || v === undefined || depth > 64) return;
    if (typeof v === 'string') {
      add(v);
      add(JSON.stringify(v).slice(1, -1));
      return;
    }
    if (typeof v === 'number' || typeof v === 'boolean') {
      add(String(v));
      return;
    }
    if (typeof v === 'object') {
      add(JSON.stringify(v));
      for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) visit(child, depth + 1);
    }
  };
  for (const v of values) visit(v, 0);
  return [...out];
}

export function createStreamRedactor(secrets: readonly string[], marker: string = LOG_REDACTION_MARKER): StreamRedactor {
  const needles = [...new Set(secrets.filter((s) => s !== ''))].map((s) => Buffer.from(s, 'utf8'));
  const markerBytes = Buffer.from(marker, 'utf8');
  const holdBack = needles.reduce((m, n) => Math.max(m, n.length), 0) - 1;
  let held: Buffer = Buffer.alloc(0);

  const scan = (data: Buffer, final: boolean): Buffer => {
    const limit = final ? data.length : Math.max(0, data.length - holdBack);
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      // Earliest match at or after pos; the longest needle wins a tie.
      let at = -1;
      let len = 0;
      for (const n of needles) {
        const i = data.indexOf(n, pos);
        if (i < 0) continue;
        if (at < 0 || i < at || (i === at && n.length > len)) {
          at = i;
          len = n.length;
        }
      }
      // A match starting before `limit` lies wholly inside `data` (limit ≤ length − holdBack).
      if (at < 0 || at >= limit) break;
      if (at > pos) parts.push(data.subarray(pos, at));
      parts.push(markerBytes);
      pos = at + len;
    }
    const emitEnd = Math.max(pos, limit);
    if (emitEnd > pos) parts.push(data.subarray(pos, emitEnd));
    held = Buffer.from(data.subarray(emitEnd));
    return parts.length === 1 ? Buffer.from(parts[0] as Buffer) : Buffer.concat(parts);
  };

  return {
    push(chunk: Buffer): Buffer {
      if (needles.length === 0) return chunk;
      return scan(held.length > 0 ? Buffer.concat([held, chunk]) : chunk, false);
    },
    flush(): Buffer {
      if (needles.length === 0 || held.length === 0) return Buffer.alloc(0);
      return scan(held, true);
    },
  };
}
