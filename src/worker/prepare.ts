/**
 * Builds the engine's ExecutionRequest from the execution row and what it points to
 * (spec 03 §1.2–§1.5, §2.1, §3.2, §6.1; spec 04 §4.2 steps 4–12). Everything that can go wrong
 * here is the execution's fault, not the agent's: it throws PrepareError with upstream's text,
 * and the service records `failed` with `Failed to prepare execution context: …` (or the
 * runtime-error prefix).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runAsForConfig } from '../config/run-as';
import type { Config } from '../config/types';
import type { Queryable } from '../db/rows';
import type { ExecutionRow } from '../db/models/execution';
import type { ExecutionSecretValueRow } from '../db/models/execution-secret-value';
import { getAction } from '../db/queries/get-action';
import { getActionByRef } from '../db/queries/get-action-by-ref';
import { getEnforcement } from '../db/queries/get-enforcement';
import { getExecution } from '../db/queries/get-execution';
import { getRuntime } from '../db/queries/get-runtime';
import { listExecutionSecretValues } from '../db/queries/list-execution-secret-values';
import { listRuntimeVersionsForRuntime } from '../db/queries/list-runtime-versions-for-runtime';
import { parseRuntimeExecutionConfig } from '../execution/runtimes';
import { interpreterIsAvailable } from '../execution/plan';
import { normalizeRuntimeName } from '../detect';
import type { EnvMap } from '../execution/child-env';
import type { ExecutionRequest, RuntimeExecutionConfig } from '../execution/types';
import type { PackReleaseDirs } from '../packs';
import { restoreSecretParameters, SecretRestoreError } from '../secrets/restore';
import { packRefOf, resolveTimeoutSec } from './dispatch-rules';
import { generateExecutionToken } from './execution-token';
import { advertisedVersionsFor, selectRuntimeVersion, type VersionCandidate } from './runtime-version';

export class PrepareError extends Error {
  /** `prepare` → "Failed to prepare execution context: "; `runtime` → "Action execution failed: Internal error: ". */
  constructor(
    message: string,
    readonly phase: 'prepare' | 'runtime',
  ) {
    super(message);
    this.name = 'PrepareError';
  }
}

export interface ActionView {
  id: number | null;
  ref: string;
  packRef: string;
  entrypoint: string;
  runtime: number | null;
  isAdhoc: boolean;
  outSchema: unknown;
  runtimeVersionConstraint: string | null;
  timeoutSeconds: number | null;
  parameterDelivery: string | null;
  parameterFormat: string | null;
  outputFormat: string | null;
  /** Log artifact retention override (spec 06 §2.2). */
  logRetentionPolicy: string | null;
  logRetentionLimit: number | null;
}

export interface RuntimeView {
  id: number | null;
  name: string;
  aliases: string[];
  executionConfig: unknown;
}

export interface PrepareContext {
  db: Queryable;
  config: Config;
  env: Readonly<Record<string, string | undefined>>;
  baseEnv: EnvMap;
  /** `capabilities.runtime_versions` this worker advertises. */
  advertisedVersions: Readonly<Record<string, readonly string[]>>;
  /** Digests whose release tarball was already verified (hashing once per digest). */
  verifiedReleases: Set<string>;
  /** Path of the shell detection found (`/bin/bash` or `/bin/sh`), if any. */
  detectedShell?: string | null;
  /** issue 15: API pack transport (src/packs); null/absent = volume transport. */
  packReleases?: PackReleaseDirs | null;
  /** issue 18: what the claim statement already read (db/queries/claim-execution.ts); absent = read here. */
  preloaded?: PreloadedReads | null;
}

export interface PreloadedReads {
  secretRows: ExecutionSecretValueRow[];
  enforcement: { ruleRef: string | null; triggerRef: string | null } | null;
}

export interface PreparedExecution {
  request: ExecutionRequest;
  action: ActionView;
  runtime: RuntimeView | null;
  selectedVersion: string | null;
}

/** spec 03 §1.5 / volume pack transport (spec 03 §1.1 step 5). */
export function resolvePackDir(
  packsBaseDir: string,
  row: Pick<ExecutionRow, 'id' | 'packRelease' | 'packReleaseDigest'>,
  packRef: string,
  verified: Set<string>,
): string {
  const digest = row.packReleaseDigest;
  if (digest === null) {
    const legacy = join(packsBaseDir, packRef);
    if (!isDir(legacy)) {
      throw new PrepareError(
        `Pack '${packRef}' is not on this worker: ${legacy} does not exist (check that the packs volume is mounted at packs_base_dir=${packsBaseDir})`,
        'prepare',
      );
    }
    return legacy;
  }
  if (!/^[0-9a-f]{64}$/.test(digest)) {
    throw new PrepareError(`Validation error: invalid pack release digest '${digest}' for execution ${row.id}`, 'prepare');
  }
  const releaseDir = join(packsBaseDir, '.releases', 'sha256', digest);
  const packDir = join(releaseDir, 'pack');
  const notLocal = (why: string) =>
    new PrepareError(
      `Pack release ${row.packRelease ?? 'null'} (${digest}) for '${packRef}' is not local on the shared volume: ${why} (packs_base_dir=${packsBaseDir})`,
      'prepare',
    );
  if (!existsSync(join(packDir, 'pack.yaml'))) throw notLocal(`${join(packDir, 'pack.yaml')} is missing`);
  if (!verified.has(digest)) {
    const tarball = join(releaseDir, 'pack.tar.gz');
    if (!existsSync(tarball)) throw notLocal(`${tarball} is missing`);
    const actual = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    if (actual !== digest) throw notLocal(`${tarball} has SHA-256 ${actual}`);
    verified.add(digest);
  }
  return packDir;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Everything up to (not including) environment set-up and the run. */
export async function prepareExecution(row: ExecutionRow, ctx: PrepareContext): Promise<PreparedExecution> {
  const snapshot = asObject(row.executableSnapshot);
  const executable = asObject(snapshot?.executable);
  const action = await loadAction(row, executable, ctx.db);
  const packRef = packRefOf(row.actionRef);

  // spec 03 §1.3: runtime from the snapshot, else by id (warning only when missing).
  let runtime: RuntimeView | null = null;
  const snapRuntime = asObject(executable?.runtime);
  if (snapRuntime) runtime = runtimeFromJson(snapRuntime);
  else if (action.runtime !== null) {
    const r = await getRuntime(ctx.db, action.runtime);
    if (r) runtime = { id: r.id, name: r.name, aliases: r.aliases, executionConfig: r.executionConfig };
  }

  let runtimeConfig: RuntimeExecutionConfig | null = runtime ? parseRuntimeExecutionConfig(runtime.executionConfig) : null;
  let fallbackRuntimeConfig: RuntimeExecutionConfig | null = null;
  let selectedVersion: string | null = null;
  if (runtime) {
    const candidates = await versionCandidates(executable, runtime, ctx.db);
    if (candidates.length > 0) {
      const chosen = selectRuntimeVersion(
        candidates,
        advertisedVersionsFor(runtime, ctx.advertisedVersions),
        action.runtimeVersionConstraint,
      );
      if (chosen) {
        fallbackRuntimeConfig = runtimeConfig;
        runtimeConfig = parseRuntimeExecutionConfig(chosen.executionConfig);
        selectedVersion = chosen.version;
      }
    }
  }

  runtimeConfig = withShellFallback(runtime, runtimeConfig, ctx);

  // issue 15 (src/packs): API-transport releases were made local at dispatch (service.ts).
  const apiRelease = ctx.packReleases?.packDirFor(row) ?? null;
  if (apiRelease && !apiRelease.ok) throw new PrepareError(apiRelease.error, 'prepare');
  const packDir = apiRelease ? apiRelease.packDir : resolvePackDir(ctx.config.packsBaseDir, row, packRef, ctx.verifiedReleases);

  // spec 04 §4.2 step 6: restore secret parameters.
  const secretRows = row.config === null ? [] : (ctx.preloaded?.secretRows ?? (await listExecutionSecretValues(ctx.db, 'execution_config', row.id)));
  let parameters: unknown = row.config ?? {};
  try {
    parameters = restoreSecretParameters(parameters, secretRows, ctx.config.security.encryptionKey, row.id);
  } catch (e) {
    if (e instanceof SecretRestoreError) throw new PrepareError(e.message, 'prepare');
    throw e;
  }

  const timeoutSec = resolveTimeoutSec(row.timeoutSeconds, row.workflowTask, action.timeoutSeconds, ctx.config.defaultExecutionTimeoutSec);

  // spec 03 §3.2 ATTUNE_API_TOKEN: only with permission sets, and only for a known identity.
  let apiToken: string | null = null;
  if (row.permissionSetRefs.length > 0) {
    if (row.executor === null) {
      throw new PrepareError(`Permission denied: Execution ${row.id} has no executor identity for API access`, 'prepare');
    }
    const refs = [row.actionRef];
    if (row.workflowTask !== null && row.parent !== null) {
      const parent = await getExecution(ctx.db, row.parent).catch(() => null);
      if (parent) refs.push(parent.actionRef);
    }
    apiToken = generateExecutionToken({
      identityId: row.executor,
      executionId: row.id,
      actionRef: row.actionRef,
      permissionSetRefs: row.permissionSetRefs,
      standardAccessActionRefs: refs,
      ttlSec: timeoutSec + 60,
      secret: ctx.config.security.jwtSecret,
    });
  }

  let rule: string | null = null;
  let trigger: string | null = null;
  if (row.enforcement !== null) {
    // Upstream ignores any error of this read (spec 04 §3.7).
    const enf = ctx.preloaded?.enforcement ?? (await getEnforcement(ctx.db, row.enforcement).catch(() => null));
    rule = enf?.ruleRef ?? null;
    trigger = enf?.triggerRef ?? null;
  }

  const request: ExecutionRequest = {
    executionId: row.id,
    actionRef: row.actionRef,
    packRef,
    entrypoint: action.entrypoint,
    runtimeName: runtime ? runtime.name.toLowerCase() : null,
    isAdhoc: action.isAdhoc,
    parameterDelivery: action.parameterDelivery,
    parameterFormat: action.parameterFormat,
    outputFormat: action.outputFormat,
    outSchema: action.outSchema,
    runtimeConfig,
    fallbackRuntimeConfig,
    packDir,
    parameters,
    secretParameterPaths: secretRows.map((r) => r.jsonPath),
    envVars: row.envVars,
    timeoutSec,
    context: {
      apiUrl: ctx.env.ATTUNE_API_URL?.trim() || `http://${ctx.config.server.host}:${ctx.config.server.port}`,
      artifactsDir: ctx.config.artifactsDir,
      runtimeEnvsDir: ctx.config.runtimeEnvsDir,
      packReleaseDigest: row.packReleaseDigest,
      traceTag: row.traceTag,
      apiToken,
      rule,
      trigger,
    },
    maxStdoutBytes: ctx.config.worker.maxStdoutBytes,
    maxStderrBytes: ctx.config.worker.maxStderrBytes,
    baseEnv: ctx.baseEnv,
    envDir: null,
    // worker.run_as_user/group (config/run-as.ts; validated at start-up by checkRunConfig).
    runAs: runAsForConfig(ctx.config.worker),
  };
  return { request, action, runtime, selectedVersion };
}

/**
 * The catalog's shell runtime is `/bin/bash`, which busybox/Alpine-like images lack although
 * the agent advertises `shell` there (detection found `/bin/sh`). Upstream then fails every
 * shell action; we run it with the detected shell instead (bash-only scripts fail either way).
 */
function withShellFallback(
  runtime: RuntimeView | null,
  config: RuntimeExecutionConfig | null,
  ctx: PrepareContext,
): RuntimeExecutionConfig | null {
  const binary = config?.interpreter?.binary;
  if (!runtime || !config || !binary || !ctx.detectedShell) return config;
  if (normalizeRuntimeName(runtime.name) !== 'shell' || interpreterIsAvailable(binary, ctx.baseEnv)) return config;
  return { ...config, interpreter: { ...config.interpreter, binary: ctx.detectedShell } };
}

async function loadAction(row: ExecutionRow, executable: Record<string, unknown> | null, db: Queryable): Promise<ActionView> {
  const snap = asObject(executable?.action);
  if (snap) return actionFromJson(snap, row.actionRef);
  // spec 04 §4.2 step 5: by id (including retired), else by ref.
  const a = (row.action !== null ? await getAction(db, row.action) : null) ?? (await getActionByRef(db, row.actionRef));
  if (!a) throw new PrepareError(`Not found: Action with ref=${row.actionRef}`, 'prepare');
  return {
    id: a.id,
    ref: a.ref,
    packRef: a.packRef,
    entrypoint: a.entrypoint,
    runtime: a.runtime,
    isAdhoc: a.isAdhoc,
    outSchema: a.outSchema,
    runtimeVersionConstraint: a.runtimeVersionConstraint,
    timeoutSeconds: a.timeoutSeconds,
    parameterDelivery: a.parameterDelivery,
    parameterFormat: a.parameterFormat,
    outputFormat: a.outputFormat,
    logRetentionPolicy: a.logRetentionPolicy,
    logRetentionLimit: a.logRetentionLimit,
  };
}

/** Lenient decode of `executable_snapshot.executable.action` (spec 04 §3.6.1). */
function actionFromJson(a: Record<string, unknown>, actionRef: string): ActionView {
  const ref = str(a.ref) ?? actionRef;
  const entrypoint = str(a.entrypoint) ?? str(a.entry_point);
  if (entrypoint === null) {
    throw new PrepareError(`Validation error: the executable snapshot of action '${ref}' has no entrypoint`, 'prepare');
  }
  return {
    id: num(a.id),
    ref,
    packRef: str(a.pack_ref) ?? packRefOf(ref),
    entrypoint,
    runtime: num(a.runtime),
    isAdhoc: a.is_adhoc === true,
    outSchema: a.out_schema ?? null,
    runtimeVersionConstraint: str(a.runtime_version_constraint),
    timeoutSeconds: num(a.timeout_seconds),
    parameterDelivery: str(a.parameter_delivery),
    parameterFormat: str(a.parameter_format),
    outputFormat: str(a.output_format),
    logRetentionPolicy: str(a.log_retention_policy),
    logRetentionLimit: num(a.log_retention_limit),
  };
}

function runtimeFromJson(r: Record<string, unknown>): RuntimeView {
  return {
    id: num(r.id),
    name: str(r.name) ?? '',
    aliases: Array.isArray(r.aliases) ? r.aliases.filter((x): x is string => typeof x === 'string') : [],
    executionConfig: r.execution_config ?? {},
  };
}

async function versionCandidates(
  executable: Record<string, unknown> | null,
  runtime: RuntimeView,
  db: Queryable,
): Promise<VersionCandidate[]> {
  if (executable && Array.isArray(executable.runtime_versions)) {
    return executable.runtime_versions
      .map((v) => asObject(v))
      .filter((v): v is Record<string, unknown> => v !== null && typeof v.version === 'string')
      .map((v) => ({
        version: v.version as string,
        executionConfig: v.execution_config ?? {},
        isDefault: v.is_default === true,
        available: v.available !== false,
      }));
  }
  if (runtime.id === null) return [];
  const rows = await listRuntimeVersionsForRuntime(db, runtime.id);
  return rows.map((v) => ({ version: v.version, executionConfig: v.executionConfig, isDefault: v.isDefault, available: v.available }));
}

function asObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}
