/**
 * What a query function needs from node-postgres, structurally: a `pg.Pool`, a `pg.PoolClient`
 * inside a transaction (see `tx.ts`) or a test double all satisfy it. Kept free of `pg` types
 * so modules that call queries never import `pg` (STYLE.md "Dependency direction").
 */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<QueryResultLike>;
}

export interface QueryResultLike {
  // `any` mirrors pg's untyped rows; every query maps them through a typed mapper at once.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  rows: any[];
  rowCount: number | null;
}

/** A raw row as returned by pg (snake_case keys). */
export type RawRow = Record<string, unknown>;

/** JSON value as stored in JSONB columns. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * BIGSERIAL/BIGINT ids arrive as strings from pg (int8 is not parsed by default). Ids in
 * Attune fit comfortably into a JS number (< 2^53), and upstream's JSON carries them as
 * numbers, so they are mapped to `number`.
 */
export function toId(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`Expected an integer id, got ${String(value)}`);
  return n;
}

export function toIdOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toId(value);
}

export function toIntOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toId(value);
}

export function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  const d = new Date(String(value));
  if (Number.isNaN(d.getTime())) throw new TypeError(`Expected a timestamp, got ${String(value)}`);
  return d;
}

export function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

export function toStringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

export function toStringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => String(v)) : [];
}

export function toJson(value: unknown): JsonValue {
  return (value ?? null) as JsonValue;
}

/** JSONB object column; anything that is not an object (NULL, array…) maps to `{}`. */
export function toJsonObject(value: unknown): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}

/**
 * Serialise a value for a `$n::jsonb` parameter. node-postgres would turn a JS array into a
 * PostgreSQL array literal, so JSON is always bound as text.
 */
export function jsonParam(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Where a parameter array keeps the values behind its JSON texts (see withJsonSources). */
const JSON_SOURCES = Symbol('attune-agent.jsonSources');

/**
 * Attach the values behind JSON parameters (by parameter index) to a parameter array, out of
 * sight of node-postgres, so a wrapping Queryable (the completion journal) reads a 10 MiB result
 * without parsing its text again (issue 18: peak RSS with heavy output).
 */
export function withJsonSources<T extends unknown[]>(params: T, sources: Readonly<Record<number, unknown>>): T {
  Object.defineProperty(params, JSON_SOURCES, { value: sources, enumerable: false });
  return params;
}

/** The value behind JSON parameter `index`: attached by withJsonSources, else parsed from its text. */
export function jsonParamValue(params: readonly unknown[], index: number): unknown {
  const sources = (params as { [JSON_SOURCES]?: Readonly<Record<number, unknown>> })[JSON_SOURCES];
  if (sources && index in sources) return sources[index] ?? null;
  const text = params[index];
  return typeof text === 'string' ? (JSON.parse(text) as unknown) : null;
}

/** SQLSTATE of a pg error (STYLE.md: branch on SQLSTATE, never on message text). */
export function sqlState(e: unknown): string | undefined {
  return e !== null && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/** Name of the violated constraint of a pg error, when PostgreSQL reported one. */
export function violatedConstraint(e: unknown): string | undefined {
  return e !== null && typeof e === 'object' && 'constraint' in e && typeof (e as { constraint: unknown }).constraint === 'string'
    ? (e as { constraint: string }).constraint
    : undefined;
}

export const SQLSTATE_UNIQUE_VIOLATION = '23505';
