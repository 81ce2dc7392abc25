/**
 * RFC 6901 JSON pointers with upstream's exact splice semantics (spec 04 §6.2,
 * `crates/common/src/secret_values.rs` `set_at_pointer` / `take_at_pointer`).
 */

export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapePointerSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Upstream splits after trimming *all* leading slashes (Rust `trim_start_matches('/')`). */
function spliceSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.replace(/^\/+/, '').split('/').map(unescapePointerSegment);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** serde_json `parse_index`: no `+`, no leading zeros. */
function strictIndex(s: string): number | null {
  if (!/^(0|[1-9][0-9]*)$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** Rust `usize::from_str` as used by `set_at_segments` (accepts `+1`, `007`). */
function lenientIndex(s: string): number | null {
  if (!/^\+?[0-9]+$/.test(s)) return null;
  const n = Number(s.replace(/^\+/, ''));
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Value at `pointer` (serde_json `Value::pointer`): `""` is the whole document, anything else
 * must start with `/`; missing paths → `undefined`.
 */
export function getAtPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  if (!pointer.startsWith('/')) return undefined;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = unescapePointerSegment(raw);
    if (Array.isArray(cur)) {
      const idx = strictIndex(seg);
      if (idx === null || idx >= cur.length) return undefined;
      cur = cur[idx];
    } else if (isPlainObject(cur)) {
      if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
      cur = cur[seg];
    } else {
      return undefined;
    }
  }
  return cur;
}

/**
 * Returns `doc` with `value` written at `pointer` (may mutate `doc` in place; use the return
 * value). Empty pointer replaces the document; missing intermediate object keys are created as
 * `{}`; array indices apply only when in range; anything else is silently skipped (spec 04 §6.2).
 */
export function setAtPointer(doc: unknown, pointer: string, value: unknown): unknown {
  const segments = spliceSegments(pointer);
  if (segments.length === 0) return value;
  setSegments(doc, segments, value);
  return doc;
}

function setSegments(target: unknown, segments: string[], value: unknown): void {
  const [head, ...rest] = segments as [string, ...string[]];
  if (isPlainObject(target)) {
    if (rest.length === 0) {
      defineOwn(target, head, value);
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(target, head)) defineOwn(target, head, {});
    setSegments(target[head], rest, value);
  } else if (Array.isArray(target)) {
    const idx = lenientIndex(head);
    if (idx === null || idx >= target.length) return;
    if (rest.length === 0) target[idx] = value;
    else setSegments(target[idx], rest, value);
  }
}

/** Plain assignment would hit the `__proto__` setter for a key named `__proto__`. */
function defineOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}
