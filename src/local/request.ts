/**
 * Parameters and the engine request for one local run. What the Attune API/executor does before
 * a dispatch (apply parameter defaults, reject missing required parameters) happens here, so a
 * pack author sees the same action input as on a worker.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors';
import type { EnvMap } from '../execution/child-env';
import type { ExecutionRequest, RuntimeExecutionConfig } from '../execution/types';
import type { LocalAction } from './pack';
import { checkParamValue, coerceFlagValue } from './param-types';

/** spec 03 §6.1: no execution/action timeout → 600 s. */
export const DEFAULT_LOCAL_TIMEOUT_SEC = 600;
/** spec 03 §4.1 default `worker.max_stdout_bytes` / `max_stderr_bytes`. */
export const DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
/** `ATTUNE_EXEC_ID` of local runs: there is no execution row. */
export const LOCAL_EXECUTION_ID = 0;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `key=value` split; throws UsageError without a key. */
export function splitParamFlag(raw: string): [string, string] {
  const eq = raw.indexOf('=');
  const key = eq > 0 ? raw.slice(0, eq).trim() : '';
  if (key === '') throw new UsageError(`Invalid --param '${raw}': expected key=value`);
  return [key, raw.slice(eq + 1)];
}

/** The value of an undeclared/untyped parameter: JSON when it parses (`3`, `true`, `[1,2]`), else the raw string. */
export function guessParamValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `key=value` with the value guessed (for parameters the action does not declare). */
export function parseParamFlag(raw: string): [string, unknown] {
  const [key, text] = splitParamFlag(raw);
  return [key, guessParamValue(text)];
}

function readParamsFile(file: string, cwd: string): Record<string, unknown> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`Cannot read --params-file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--params-file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new UsageError(`--params-file ${path} must contain a JSON object`);
  return parsed;
}

export interface ResolveLocalParametersOptions {
  params?: readonly string[];
  paramsFile?: string | null;
  cwd: string;
}

/** Params file, overridden by `--param` flags, then the action's defaults; required ones checked. */
export function resolveLocalParameters(action: LocalAction, opts: ResolveLocalParametersOptions): Record<string, unknown> {
  const params: Record<string, unknown> = opts.paramsFile ? readParamsFile(opts.paramsFile, opts.cwd) : {};
  const declared = new Map(action.parameters.map((p) => [p.name, p]));
  const problems: string[] = [];
  for (const raw of opts.params ?? []) {
    const [key, text] = splitParamFlag(raw);
    // Typed by the declaration, not guessed: `-p key_ref=2024` stays "2024" for a string.
    const coerced = coerceFlagValue(declared.get(key), text, () => guessParamValue(text));
    if (coerced.ok) params[key] = coerced.value;
    else problems.push(`'${key}' ${coerced.problem}`);
  }
  for (const p of action.parameters) {
    if (params[p.name] !== undefined && !problems.some((m) => m.startsWith(`'${p.name}' `))) {
      for (const m of checkParamValue(p, params[p.name])) problems.push(`'${p.name}' ${m}`);
    }
  }
  if (problems.length > 0) {
    throw new UsageError(`Invalid parameter${problems.length > 1 ? 's' : ''} for action '${action.ref}': ${problems.join('; ')}`);
  }
  for (const p of action.parameters) {
    if (params[p.name] === undefined && p.hasDefault) params[p.name] = structuredClone(p.default);
  }
  const missing = action.parameters.filter((p) => p.required && params[p.name] === undefined).map((p) => p.name);
  if (missing.length > 0) {
    const names = missing.map((n) => `'${n}'`).join(', ');
    const hint = missing.map((n) => `--param ${n}=...`).join(' ');
    throw new UsageError(
      `Action '${action.ref}' requires parameter${missing.length > 1 ? 's' : ''} ${names} (missing; pass ${hint})`,
    );
  }
  return params;
}

function jsonPointer(name: string): string {
  return `/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

export interface BuildLocalRequestOptions extends ResolveLocalParametersOptions {
  /** `--timeout`; else the action's `timeout_seconds`, else `defaultTimeoutSec`. */
  timeoutSec?: number | null;
  defaultTimeoutSec?: number;
  /** Child baseline (spec 03 §3.1). */
  baseEnv: EnvMap;
  runtimeEnvsDir: string;
  artifactsDir: string;
  /** Value for `ATTUNE_API_URL` (the engine rewrites 0.0.0.0). */
  apiUrl: string;
  /** Resolved runtime environment dir, or null. */
  envDir: string | null;
  /** Effective runtime config; null → the registry's definition for the runtime name. */
  runtimeConfig?: RuntimeExecutionConfig | null;
  maxStdoutBytes?: number;
  maxStderrBytes?: number;
}

/** The engine request for `action` (throws `UsageError` for parameter problems, before anything runs). */
export function buildLocalRequest(action: LocalAction, opts: BuildLocalRequestOptions): ExecutionRequest {
  const parameters = resolveLocalParameters(action, opts);
  const timeoutSec =
    opts.timeoutSec && opts.timeoutSec > 0 ? opts.timeoutSec : (action.timeoutSec ?? opts.defaultTimeoutSec ?? DEFAULT_LOCAL_TIMEOUT_SEC);
  return {
    executionId: LOCAL_EXECUTION_ID,
    actionRef: action.ref,
    packRef: action.packRef,
    entrypoint: action.entrypoint,
    runtimeName: action.runtimeName,
    isAdhoc: false,
    parameterDelivery: action.parameterDelivery,
    parameterFormat: action.parameterFormat,
    outputFormat: action.outputFormat,
    outSchema: action.outSchema,
    runtimeConfig: opts.runtimeConfig ?? null,
    packDir: action.packDir,
    parameters,
    // On the platform, secret parameters are stored encrypted and restored for the run, which
    // makes the result's stdout/error redacted (spec 03 §4.5); mirror that locally.
    secretParameterPaths: action.parameters.filter((p) => p.secret && parameters[p.name] !== undefined).map((p) => jsonPointer(p.name)),
    envVars: null,
    timeoutSec,
    context: { apiUrl: opts.apiUrl, artifactsDir: opts.artifactsDir, runtimeEnvsDir: opts.runtimeEnvsDir },
    maxStdoutBytes: opts.maxStdoutBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    maxStderrBytes: opts.maxStderrBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    baseEnv: opts.baseEnv,
    envDir: opts.envDir,
    logFiles: null,
    resultFilePath: null,
  };
}
