/** Small JSON-shape helpers shared by the envelope and payload parsers (core, no amqplib). */

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

// RFC 3339 date-time: any fraction length, `Z` or numeric offset (spec 02 §3.4).
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isRfc3339(v: unknown): v is string {
  if (typeof v !== 'string' || !RFC3339_RE.test(v)) return false;
  // Date.parse rejects impossible dates; it needs at most millisecond precision to be reliable.
  const trimmed = v.replace(/(\.\d{3})\d+/, '$1');
  return !Number.isNaN(Date.parse(trimmed));
}

/** Short, safe rendering of an unexpected value for error texts (never whole payloads). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} chars` : JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
