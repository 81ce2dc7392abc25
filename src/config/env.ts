/**
 * `ATTUNE__SECTION__KEY` environment overrides (spec 01 §2.1 source 3): prefix `ATTUNE`, separator
 * `__` for both prefix and nesting, keys lowercased, values type-parsed like config-rs
 * `try_parsing(true)`; `worker.passthrough_env` (and `sensor.passthrough_env`) are comma lists.
 */
import { compareOrdinal } from '../util/compare';

export type RawConfig = Record<string, unknown>;

/** Keys whose env value is a comma-separated list (f3e5d1c: only these two). */
const LIST_KEYS = new Set(['worker.passthrough_env', 'sensor.passthrough_env']);

/** Env names read directly by code, not through the `ATTUNE__` tree (spec 01 §2.1 table). */
const NOT_CONFIG = new Set(['ATTUNE__ENVIRONMENT']);

export interface EnvOverride {
  path: string[];
  value: unknown;
  envName: string;
}

export function parseEnvOverrides(env: Readonly<Record<string, string | undefined>>): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('ATTUNE__') || NOT_CONFIG.has(name)) continue;
    const path = name
      .slice('ATTUNE__'.length)
      .split('__')
      .map((p) => p.toLowerCase());
    if (path.some((p) => p === '')) continue;
    const dotted = path.join('.');
    const value = LIST_KEYS.has(dotted) ? splitList(raw) : parseScalar(raw);
    out.push({ path, value, envName: name });
  }
  // Deterministic order: shorter paths first so `ATTUNE__WORKER__X` lands inside a section set earlier.
  return out.sort((a, b) => a.path.length - b.path.length || compareOrdinal(a.envName, b.envName));
}

/** config-rs try_parsing: bool, integer, float, else the string as is. */
export function parseScalar(raw: string): unknown {
  const lower = raw.trim().toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (/^[+-]?\d+$/.test(raw.trim())) {
    const n = Number(raw.trim());
    if (Number.isSafeInteger(n)) return n;
  }
  if (/^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/.test(raw.trim())) return Number(raw.trim());
  return raw;
}

function splitList(raw: string): string[] {
  // Upstream splits on ',' without trimming; empty input means an empty list.
  return raw === '' ? [] : raw.split(',');
}

/** Set `value` at `path` inside `target`, creating objects on the way (replacing non-objects). */
export function setPath(target: RawConfig, path: readonly string[], value: unknown): void {
  let cur: RawConfig = target;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = cur[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      cur[key] = {};
    }
    cur = cur[key] as RawConfig;
  }
  cur[path[path.length - 1] as string] = value;
}

/** Deep merge of plain objects; arrays and scalars from `over` replace those in `base`. */
export function deepMerge(base: RawConfig, over: RawConfig, depth = 0): RawConfig {
  const out: RawConfig = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined;
    // Bounded: YAML aliases can make both trees cyclic. Past the config's real depth, replace.
    const merged = isPlainObject(prev) && isPlainObject(v) && depth < 8 ? deepMerge(prev, v, depth + 1) : v;
    // defineProperty, not assignment: a YAML key `__proto__` must stay a plain key.
    Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export function isPlainObject(v: unknown): v is RawConfig {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
