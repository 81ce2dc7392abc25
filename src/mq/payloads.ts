/**
 * Parsers for the payloads the worker consumes (spec 02 §4). Unknown keys are ignored and
 * missing required keys fail, as serde does upstream. Error texts name the field and the kind
 * of value, never secret values (`candidate_access_token` is never echoed). Core module.
 */
import { describeValue, isPlainObject, isRfc3339, type ParseResult } from './json';

/** spec 02 §4.1 (newest producer shape; older producers omit the last three keys). */
export interface ExecutionDispatchPayload {
  execution_id: number;
  worker_id: number;
  action_ref: string;
  /** Ignored by the worker: parameters are reloaded from the DB (spec 02 §9.4). */
  config: unknown;
  scheduled_attempt_updated_at: string | null;
  release_id: number | null;
  release_digest: string | null;
}

/** spec 02 §4.2 */
export interface CancelRequestPayload {
  execution_id: number;
  worker_id: number;
}

/** spec 02 §4.3 */
export interface PackRegisteredPayload {
  pack_id: number;
  pack_ref: string;
  version: string;
  /** Required only by the newest upstream; we accept its absence (spec 02 §10). */
  release_id: number | null;
  release_digest: string | null;
  runtime_names: string[];
}

/** spec 07 §3.1 (newest); older producers send only `pack_id` and `pack_ref`. */
export interface PackDeletedPayload {
  pack_id: number;
  pack_ref: string;
  /** Runtime-env dirs recorded for the pack, relative to `runtime_envs_dir` (checked by the handler). */
  runtime_environment_paths: string[];
  /** Release digests cached by API-transport replicas (64 lowercase hex; checked by the handler). */
  release_digests: string[];
}

/** spec 07 §2.1: `ActionChanged` on `attune.metadata`. */
export interface ActionChangedPayload {
  action_id: number;
  action_ref: string;
  pack_ref: string;
  operation: string;
  updated_at: string;
}

/** spec 07 §2.1: `RuntimeChanged`; `pack_ref` is null for platform runtimes. */
export interface RuntimeChangedPayload {
  runtime_id: number;
  runtime_ref: string;
  pack_ref: string | null;
  operation: string;
  updated_at: string;
}

/** spec 07 §2.1: `PackChanged`. */
export interface PackChangedPayload {
  pack_id: number;
  pack_ref: string;
  operation: string;
  updated_at: string;
}

/** spec 02 §4.4. `candidate_access_token` is a secret: never log this object whole. */
export interface PackTestRequestedPayload {
  pack_install_id: number;
  pack_ref: string;
  pack_version: string;
  candidate_path: string | null;
  candidate_access_token?: string;
  trigger_reason: string;
  required_runtimes: string[];
  worker_selector: Record<string, unknown>;
  worker_tolerations: unknown[];
  worker_affinity: Record<string, unknown>;
}

class FieldError extends Error {}

type Obj = Record<string, unknown>;

function fail(key: string, what: string, v: unknown, secret = false): never {
  const got = secret ? '' : `, got ${describeValue(v)}`;
  throw new FieldError(`payload.${key} must be ${what}${got}`);
}

function present(o: Obj, key: string): unknown {
  const v = o[key];
  if (v === undefined || v === null) throw new FieldError(`missing required field payload.${key}`);
  return v;
}

function int(o: Obj, key: string): number {
  const v = present(o, key);
  // spec 02 §3.4: IDs are JSON integers (i64 upstream); anything else fails like serde.
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(key, 'an integer', v);
  return v;
}

function optInt(o: Obj, key: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(key, 'an integer or null', v);
  return v;
}

function str(o: Obj, key: string): string {
  const v = present(o, key);
  if (typeof v !== 'string') fail(key, 'a string', v);
  return v;
}

function optStr(o: Obj, key: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') fail(key, 'a string or null', v);
  return v;
}

function strArray(o: Obj, key: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(key, 'an array of strings', v);
  return v as string[];
}

function obj(o: Obj, key: string): Record<string, unknown> {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v)) fail(key, 'an object', v);
  return v;
}

// Upstream `RefValidator::validate_pack_ref`: starts with a lowercase letter, then lowercase
// letters, digits, `-` or `_` (attune-system/attune crates/common/src/schema.rs).
const PACK_REF_RE = /^[a-z][a-z0-9_-]*$/;

export function isValidPackRef(v: string): boolean {
  return PACK_REF_RE.test(v);
}

function packRef(o: Obj, key: string): string {
  const v = str(o, key);
  if (!isValidPackRef(v)) {
    fail(key, 'a pack ref (lowercase letter first, then lowercase letters, digits, "-" or "_")', v);
  }
  return v;
}

function run<T>(payload: unknown, parse: (o: Obj) => T): ParseResult<T> {
  if (!isPlainObject(payload)) return { ok: false, error: `payload must be a JSON object, got ${describeValue(payload)}` };
  try {
    return { ok: true, value: parse(payload) };
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, error: e.message };
    throw e;
  }
}

/** spec 02 §4.1: execution_id, worker_id, action_ref required (as upstream); the rest optional. */
export function parseExecutionDispatch(payload: unknown): ParseResult<ExecutionDispatchPayload> {
  return run(payload, (o) => {
    const updatedAt = optStr(o, 'scheduled_attempt_updated_at');
    if (updatedAt !== null && !isRfc3339(updatedAt)) {
      fail('scheduled_attempt_updated_at', 'an RFC 3339 date-time or null', updatedAt);
    }
    return {
      execution_id: int(o, 'execution_id'),
      worker_id: int(o, 'worker_id'),
      action_ref: str(o, 'action_ref'),
      config: o.config === undefined ? null : o.config,
      scheduled_attempt_updated_at: updatedAt,
      release_id: optInt(o, 'release_id'),
      release_digest: optStr(o, 'release_digest'),
    };
  });
}

/** spec 02 §4.2 */
export function parseCancelRequest(payload: unknown): ParseResult<CancelRequestPayload> {
  return run(payload, (o) => ({ execution_id: int(o, 'execution_id'), worker_id: int(o, 'worker_id') }));
}

/** spec 02 §4.3: lenient about the newest-only release fields and `runtime_names`. */
export function parsePackRegistered(payload: unknown): ParseResult<PackRegisteredPayload> {
  return run(payload, (o) => ({
    pack_id: int(o, 'pack_id'),
    pack_ref: packRef(o, 'pack_ref'),
    version: str(o, 'version'),
    release_id: optInt(o, 'release_id'),
    release_digest: optStr(o, 'release_digest'),
    runtime_names: strArray(o, 'runtime_names'),
  }));
}

/** spec 07 §3.1: the two newer arrays default to empty, as serde does upstream. */
export function parsePackDeleted(payload: unknown): ParseResult<PackDeletedPayload> {
  return run(payload, (o) => ({
    pack_id: int(o, 'pack_id'),
    pack_ref: packRef(o, 'pack_ref'),
    runtime_environment_paths: strArray(o, 'runtime_environment_paths'),
    release_digests: strArray(o, 'release_digests'),
  }));
}

function timestamp(o: Obj, key: string): string {
  const v = str(o, key);
  if (!isRfc3339(v)) fail(key, 'an RFC 3339 date-time', v);
  return v;
}

/** spec 07 §2.1 */
export function parseActionChanged(payload: unknown): ParseResult<ActionChangedPayload> {
  return run(payload, (o) => ({
    action_id: int(o, 'action_id'),
    action_ref: str(o, 'action_ref'),
    pack_ref: packRef(o, 'pack_ref'),
    operation: str(o, 'operation'),
    updated_at: timestamp(o, 'updated_at'),
  }));
}

/** spec 07 §2.1: `pack_ref`, when present, passes the pack-ref rule. */
export function parseRuntimeChanged(payload: unknown): ParseResult<RuntimeChangedPayload> {
  return run(payload, (o) => {
    const ref = optStr(o, 'pack_ref');
    if (ref !== null && !isValidPackRef(ref)) fail('pack_ref', 'a pack ref or null', ref);
    return {
      runtime_id: int(o, 'runtime_id'),
      runtime_ref: str(o, 'runtime_ref'),
      pack_ref: ref,
      operation: str(o, 'operation'),
      updated_at: timestamp(o, 'updated_at'),
    };
  });
}

/** spec 07 §2.1 */
export function parsePackChanged(payload: unknown): ParseResult<PackChangedPayload> {
  return run(payload, (o) => ({
    pack_id: int(o, 'pack_id'),
    pack_ref: packRef(o, 'pack_ref'),
    operation: str(o, 'operation'),
    updated_at: timestamp(o, 'updated_at'),
  }));
}

/** spec 02 §4.4. The token is copied through but never appears in an error text. */
export function parsePackTestRequested(payload: unknown): ParseResult<PackTestRequestedPayload> {
  return run(payload, (o) => {
    const tolerations = o.worker_tolerations;
    if (tolerations !== undefined && tolerations !== null && !Array.isArray(tolerations)) {
      fail('worker_tolerations', 'an array', tolerations);
    }
    const token = o.candidate_access_token;
    if (token !== undefined && token !== null && typeof token !== 'string') {
      fail('candidate_access_token', 'a string', token, true);
    }
    const out: PackTestRequestedPayload = {
      pack_install_id: int(o, 'pack_install_id'),
      pack_ref: packRef(o, 'pack_ref'),
      pack_version: str(o, 'pack_version'),
      candidate_path: optStr(o, 'candidate_path'),
      trigger_reason: str(o, 'trigger_reason'),
      required_runtimes: strArray(o, 'required_runtimes'),
      worker_selector: obj(o, 'worker_selector'),
      worker_tolerations: (tolerations as unknown[] | null | undefined) ?? [],
      worker_affinity: obj(o, 'worker_affinity'),
    };
    if (typeof token === 'string') out.candidate_access_token = token;
    return out;
  });
}
