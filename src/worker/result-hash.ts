/**
 * The hash by which the completion journal recognises its own terminal write in a row
 * (completion-journal.ts): sha256 of the result's canonical JSON.
 */
import { createHash } from 'node:crypto';

/**
 * sha256 of the canonical JSON: equal for the value we wrote and the jsonb PostgreSQL returns.
 * Streamed into the hash (issue 18): a 10 MiB captured stdout is hashed in 64 Ki-character
 * pieces instead of being copied into one canonical string and its concatenations (~17 MiB of
 * the agent's peak RSS with 500 MB of output).
 */
export function resultHash(result: unknown): string {
  const h = createHash('sha256');
  writeCanonical(result, (s) => h.update(s));
  return h.digest('hex');
}

/**
 * JSON with object keys sorted (jsonb does not keep key order); `undefined` members are dropped
 * as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  writeCanonical(value, (s) => parts.push(s));
  return parts.join('');
}

/** Characters of a string escaped at a time (a piece never splits a surrogate pair). */
const STRING_PIECE = 64 * 1024;

function writeCanonical(value: unknown, out: (s: string) => void): void {
  if (typeof value === 'string') {
    writeString(value, out);
    return;
  }
  if (value === null || typeof value !== 'object') {
    out(JSON.stringify(value) ?? 'null');
    return;
  }
  if (Array.isArray(value)) {
    out('[');
    value.forEach((v, i) => {
      if (i > 0) out(',');
      if (v === undefined || typeof v === 'function') out('null');
      else writeCanonical(v, out);
    });
    out(']');
    return;
  }
  const obj = value as Record<string, unknown>;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    writeCanonical((obj as { toJSON(): unknown }).toJSON(), out);
    return;
  }
  out('{');
  let first = true;
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out(',');
    first = false;
    writeString(k, out);
    out(':');
    writeCanonical(v, out);
  }
  out('}');
}

/**
 * A character JSON.stringify writes differently from itself: `"`, `\\`, C0 controls, and
 * surrogates (a lone one is escaped; pieces with pairs simply take the slow path).
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(s), emitted in pieces for long strings. */
function writeString(s: string, out: (s: string) => void): void {
  if (s.length <= STRING_PIECE) {
    out(JSON.stringify(s));
    return;
  }
  out('"');
  for (let i = 0; i < s.length; ) {
    let end = Math.min(s.length, i + STRING_PIECE);
    // Keep a high surrogate with its low half: alone it would be escaped as \udXXX.
    const last = s.charCodeAt(end - 1);
    if (end < s.length && last >= 0xd800 && last <= 0xdbff) end--;
    const piece = s.slice(i, end);
    // Most of a captured stdout needs no escaping: its JSON text is the piece itself (a third
    // less time on a 10 MiB result than escaping a copy of every piece).
    out(NEEDS_ESCAPE.test(piece) ? JSON.stringify(piece).slice(1, -1) : piece);
    i = end;
  }
  out('"');
}
