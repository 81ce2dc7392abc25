/**
 * Secret redaction of `execution.result` before the terminal write (spec 03 §4.5, spec 04 §6.3,
 * upstream `secret_values.rs` `redact_action_result` / `secret_paths_from_schema`).
 */
import { escapePointerSegment, getAtPointer, setAtPointer } from '../secrets/json-pointer';
import type { RedactedResultValue } from './types';

export const REDACTION_MARKER: Readonly<Record<string, boolean>> = Object.freeze({ $attune_secret: true, redacted: true });

function marker(): Record<string, boolean> {
  return { $attune_secret: true, redacted: true };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isRedactionMarker(v: unknown): boolean {
  return isObject(v) && v.$attune_secret === true;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Pointers of `secret: true` properties. A schema with a top-level `properties` key is walked as
 * JSON Schema; otherwise it is read as the flat `{name: {…}}` pack format. Sorted, deduplicated.
 */
export function secretPathsFromSchema(schema: unknown): string[] {
  if (!isObject(schema)) return [];
  const paths: string[] = [];
  if (Object.prototype.hasOwnProperty.call(schema, 'properties')) collectJsonSchema(schema, '', paths);
  else for (const [key, def] of Object.entries(schema)) collectFlat(def, `/${escapePointerSegment(key)}`, paths);
  return [...new Set(paths)].sort(compareBytes);
}

function collectFlat(def: unknown, at: string, out: string[]): void {
  if (!isObject(def)) return;
  if (def.secret === true) {
    out.push(at);
    return;
  }
  if (isObject(def.properties)) for (const [k, child] of Object.entries(def.properties)) collectFlat(child, `${at}/${escapePointerSegment(k)}`, out);
}

function collectJsonSchema(def: unknown, at: string, out: string[]): void {
  if (!isObject(def)) return;
  if (def.secret === true && at !== '') {
    out.push(at);
    return;
  }
  if (isObject(def.properties)) for (const [k, child] of Object.entries(def.properties)) collectJsonSchema(child, `${at}/${escapePointerSegment(k)}`, out);
}

/** Paths not nested under another path of the set (upstream "roots"). */
function roots(paths: readonly string[]): string[] {
  const set = new Set(paths);
  return paths.filter((p) => {
    for (let i = 0; i < p.length; i++) if (p[i] === '/' && set.has(p.slice(0, i))) return false;
    return true;
  });
}

/**
 * Redacts `result` in place and returns the originals. `data` paths from the out schema are
 * replaced by the marker; when the execution had secret parameters or the schema declares any
 * secret, the whole `stdout` and `error` are replaced as well.
 */
export function redactActionResult(
  result: Record<string, unknown>,
  outSchema: unknown,
  secretParameterPaths: readonly string[],
): RedactedResultValue[] {
  const schemaPaths = secretPathsFromSchema(outSchema);
  const redacted: RedactedResultValue[] = [];
  if (Object.prototype.hasOwnProperty.call(result, 'data')) {
    let data = result.data;
    for (const p of roots(schemaPaths)) {
      const value = getAtPointer(data, p);
      if (value === undefined) continue;
      redacted.push({ jsonPath: `/data${p}`, value, sourceKind: 'parameter_schema', sourceRef: p });
      data = setAtPointer(data, p, marker());
    }
    result.data = data;
  }
  if (secretParameterPaths.length > 0 || schemaPaths.length > 0) {
    for (const key of ['stdout', 'error'] as const) {
      const value = result[key];
      if (value === undefined || value === null || isRedactionMarker(value)) continue;
      redacted.push({ jsonPath: `/${key}`, value, sourceKind: 'parameter_schema', sourceRef: `/${key}` });
      result[key] = marker();
    }
  }
  return redacted;
}
