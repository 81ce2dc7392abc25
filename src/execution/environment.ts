/**
 * The environment of an action process (spec 03 §3.1): the captured baseline, then an explicit
 * map built in order (a) worker `ATTUNE_*` context, (b) runtime `env_vars` templates,
 * (c) parameter-delivery markers, (d) `execution.env_vars`. Nothing is read from the agent's own
 * `process.env` here.
 */
import type { Logger } from '../log';
import type { EnvMap } from './child-env';
import { PrepareFailure } from './failures';
import { scalarText, type ParameterMap } from './parameters';
import type { ExecutionContextVars, RuntimeEnvVarSpec } from './types';

const RESERVED_PREFIX = 'ATTUNE_';

/** spec 03 §3.2: `0.0.0.0` / `[::]` are bind addresses, not reachable ones. */
export function normalizeApiUrl(raw: string): string {
  return raw.split('://0.0.0.0').join('://127.0.0.1').split('://[::]').join('://127.0.0.1');
}

export interface ContextEnvInput {
  executionId: number;
  actionRef: string;
  context: ExecutionContextVars;
  parameters: ParameterMap;
}

/** A map without a prototype, so user-chosen names such as `__proto__` are plain keys. */
export function createEnvMap(init: Readonly<EnvMap> = {}): EnvMap {
  return Object.assign(Object.create(null) as EnvMap, init);
}

/** (a) worker-provided `ATTUNE_*` variables, in upstream's insertion order (spec 03 §3.2). */
export function buildContextEnv(input: ContextEnvInput): EnvMap {
  const { context } = input;
  const env = createEnvMap({
    ATTUNE_EXEC_ID: String(input.executionId),
    ATTUNE_ACTION: input.actionRef,
    ATTUNE_API_URL: normalizeApiUrl(context.apiUrl),
    ATTUNE_ARTIFACTS_DIR: context.artifactsDir,
    ATTUNE_RUNTIME_ENVS_DIR: context.runtimeEnvsDir,
    ATTUNE_PACK_REF: input.actionRef.split('.')[0] ?? input.actionRef,
  });
  if (context.packReleaseDigest != null) env.ATTUNE_PACK_RELEASE_DIGEST = context.packReleaseDigest;
  if (context.traceTag != null) env.ATTUNE_TRACE_TAG = context.traceTag;
  if (context.apiToken != null && context.apiToken !== '') env.ATTUNE_API_TOKEN = context.apiToken;
  if (context.rule != null) env.ATTUNE_RULE = context.rule;
  if (context.trigger != null) env.ATTUNE_TRIGGER = context.trigger;
  const ctx = input.parameters.context;
  if (typeof ctx === 'object' && ctx !== null && !Array.isArray(ctx)) {
    for (const [key, value] of Object.entries(ctx as Record<string, unknown>)) {
      env[`ATTUNE_CONTEXT_${key.toUpperCase()}`] = scalarText(value);
    }
  }
  return env;
}

/**
 * spec 03 §3.1 (d): `execution.env_vars` must be null/absent or an object of strings; anything
 * else fails context preparation with upstream's exact text.
 */
export function validateExecutionEnvVars(raw: unknown): EnvMap {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidEnvVars();
  const out = createEnvMap();
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') throw invalidEnvVars();
    out[k] = v;
  }
  return out;
}

function invalidEnvVars(): PrepareFailure {
  return new PrepareFailure('Validation error: Execution env_vars must be an object with string values');
}

/** Plain `{name}` substring replacement (`RuntimeExecutionConfig::resolve_template`). */
export function resolveTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  let out = template;
  for (const [k, v] of Object.entries(vars)) out = out.split(`{${k}}`).join(v);
  return out;
}

function joinValues(left: string, right: string, separator: string): string {
  if (left === '') return right;
  if (right === '') return left;
  return `${left}${separator}${right}`;
}

/**
 * (b) runtime `env_vars` (spec 03 §3.3) applied onto `explicit`. "existing" for prepend/append is
 * the explicit map's value, else the baseline's. Reserved `ATTUNE_` names are skipped.
 */
export function applyRuntimeEnvVars(
  explicit: EnvMap,
  baseEnv: Readonly<EnvMap>,
  envVars: Readonly<Record<string, string | RuntimeEnvVarSpec>> | undefined,
  templateVars: Readonly<Record<string, string>>,
  log: Logger,
): void {
  for (const [key, spec] of Object.entries(envVars ?? {})) {
    if (key.startsWith(RESERVED_PREFIX)) {
      log.warn({ variable: key }, 'ignoring reserved runtime environment variable');
      continue;
    }
    const existing = Object.prototype.hasOwnProperty.call(explicit, key) ? explicit[key] : baseEnv[key];
    if (typeof spec === 'string') {
      explicit[key] = resolveTemplate(spec, templateVars);
      continue;
    }
    const value = resolveTemplate(spec.value, templateVars);
    const separator = spec.separator ?? ':';
    if (spec.operation === 'prepend') explicit[key] = joinValues(value, existing ?? '', separator);
    else if (spec.operation === 'append') explicit[key] = joinValues(existing ?? '', value, separator);
    else explicit[key] = value;
  }
}

/** (d) execution env vars over everything else, except reserved `ATTUNE_` names (case-sensitive). */
export function mergeExecutionEnv(explicit: EnvMap, executionEnv: Readonly<EnvMap>, log: Logger): void {
  for (const [key, value] of Object.entries(executionEnv)) {
    if (key.startsWith(RESERVED_PREFIX)) {
      log.warn({ variable: key }, 'ignoring reserved execution environment variable');
      continue;
    }
    explicit[key] = value;
  }
}

/** The final child environment: baseline, then the explicit map (later wins). */
export function composeChildEnv(baseEnv: Readonly<EnvMap>, explicit: Readonly<EnvMap>): EnvMap {
  return createEnvMap({ ...baseEnv, ...explicit });
}
