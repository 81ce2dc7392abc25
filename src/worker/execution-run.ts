/**
 * One execution from its claimed row to its outcome (spec 03, spec 06 §2–§3): read what it
 * needs (prepare.ts), build its runtime environment on first use, open its log streams, run it
 * in the engine, then seal the streams and finalise its file artifacts. Never writes the final
 * status: service.ts orders that and the messages.
 */
import { join } from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import type { ExecutionRow } from '../db/models/execution';
import { ensureRuntimeEnvironment, resolveEnvDir } from '../envs';
import type { EnvMap } from '../execution/child-env';
import { buildFailureOutcome, prepareFailureText, runExecution, runtimeFailureText, secretPathsFromSchema, type RuntimeRegistry } from '../execution';
import type { ExecutionOutcome, ExecutionRequest } from '../execution/types';
import type { OomWatch, ProcessSpawner } from '../execution/ports';
import type { PackReleaseGate } from '../packs';
import type { ExecutionOutput } from '../logs';
import type { RetryOutcome } from './retrying';
import { PrepareError, prepareExecution, type ActionView, type PreloadedReads } from './prepare';

/** What a run needs from the worker (WorkerServiceOptions, plus its release cache and retry policy). */
export interface ExecutionRunDeps {
  db: Queryable;
  config: Config;
  env: Readonly<Record<string, string | undefined>>;
  baseEnv: EnvMap;
  registry: RuntimeRegistry;
  advertisedVersions: Readonly<Record<string, readonly string[]>>;
  detectedShell?: string | null;
  killGraceMs?: number;
  packReleases?: PackReleaseGate | null;
  output?: ExecutionOutput;
  spawner?: ProcessSpawner;
  oom?: OomWatch | null;
  /** Pack releases already verified by this worker (prepare.ts). */
  verifiedReleases: Set<string>;
  retrying<T>(log: Logger, what: string, fn: () => Promise<T>, permanent?: (e: unknown) => boolean): Promise<RetryOutcome<T>>;
}

/** Prepare and run one claimed execution: failures to prepare or run become a failed outcome. */
export async function prepareAndRun(deps: ExecutionRunDeps, row: ExecutionRow, abort: AbortController, log: Logger, preloaded: PreloadedReads | null): Promise<ExecutionOutcome> {
  const { config } = deps;
  // A PostgreSQL restart while reading the action/secrets must not fail the execution.
  const attempt = await deps.retrying(
    log,
    'read what the execution needs',
    () =>
      prepareExecution(row, {
        db: deps.db,
        config,
        env: deps.env,
        baseEnv: deps.baseEnv,
        advertisedVersions: deps.advertisedVersions,
        verifiedReleases: deps.verifiedReleases,
        detectedShell: deps.detectedShell ?? null,
        packReleases: deps.packReleases ?? null, // issue 15
        preloaded, // issue 18
      }),
    (e) => e instanceof PrepareError,
  );
  if (!attempt.ok) {
    const e = attempt.error;
    if (!(e instanceof PrepareError)) throw e;
    log.error({ error: e.message }, 'execution could not be prepared');
    const text = e.phase === 'prepare' ? prepareFailureText(e.message) : runtimeFailureText(e.message);
    return buildFailureOutcome(text, { phase: e.phase, logFiles: null, outSchema: null, secretParameterPaths: [] });
  }
  const { request, runtime, selectedVersion, action } = attempt.value;

  // Agent mode: runtime environments are built lazily on first use (spec 03 §7.3).
  if (runtime && request.runtimeConfig?.environment) {
    const envDir = await resolveEnvDir({
      runtimeEnvsDir: config.runtimeEnvsDir,
      packRef: request.packRef,
      runtimeName: runtime.name.toLowerCase(),
      version: selectedVersion,
      packReleaseDigest: request.context.packReleaseDigest ?? null,
      packDir: request.packDir,
      runtimeConfig: request.runtimeConfig,
      env: deps.env,
    });
    const ready = await ensureRuntimeEnvironment({ envDir, packDir: request.packDir, packRef: request.packRef, runtimeConfig: request.runtimeConfig, baseEnv: deps.baseEnv, log, signal: abort.signal });
    if (ready.ok) request.envDir = envDir;
    else log.warn({ envDir, error: ready.error, cached: ready.cached }, 'runtime environment set-up failed; running with the system interpreter');
  }

  // result.json (spec 03 §4.6) only without secrets: it would hold the secret the stored result redacts.
  const hasSecrets = request.secretParameterPaths.length > 0 || secretPathsFromSchema(request.outSchema).length > 0;
  if (!hasSecrets) request.resultFilePath = join(config.artifactsDir, `execution_${row.id}`, 'result.json');
  return runWithLogStreams(deps, row, request, action, abort, log);
}

// ---------------------------------------------------------------- log streams (spec 06 §2, issue 13)

/**
 * Log stream rows and files set up while the action starts, seals and file artifacts after it
 * (logs/). The rows' statement goes on the wire first and the spawn (a fork that blocks the
 * event loop for 1–3 ms) happens while PostgreSQL runs it; the engine reads the output from the
 * spawn on and holds it until the sinks exist (issue 18: one round trip off the sequential path).
 */
async function runWithLogStreams(deps: ExecutionRunDeps, row: ExecutionRow, request: ExecutionRequest, action: ActionView, abort: AbortController, log: Logger): Promise<ExecutionOutcome> {
  const output = deps.output ?? null;
  // open() reports its own failures as a set without sinks; a throw is a bug: run without logs.
  const opening = output
    ? output.open({ request, parentExecutionId: row.parent, logRetentionPolicy: action.logRetentionPolicy, logRetentionLimit: action.logRetentionLimit }, log).catch((e: unknown) => {
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'setting up the log streams failed; running without them');
        return null;
      })
    : null;
  // pg-pool hands an idle client to a query on process.nextTick, which runs only once the
  // microtasks drain, i.e. after the synchronous path to the spawn: yield one tick so that the
  // statement is on the wire before the fork (strace: writev of the rows, then clone).
  if (opening) await new Promise<void>((resolve) => process.nextTick(resolve));
  let outcome: ExecutionOutcome;
  try {
    outcome = await runExecution(request, {
      log,
      signal: abort.signal,
      registry: deps.registry,
      killGraceMs: deps.killGraceMs,
      logFinalizationTimeoutMs: deps.config.artifacts.logFinalizationTimeoutMs,
      sinks: opening?.then((set) => set?.sinks ?? null) ?? null,
      spawner: deps.spawner,
      oom: deps.oom ?? null,
    });
  } catch (e) {
    await (await opening)?.finish(false).catch(() => undefined);
    throw e;
  }
  // Settled by now unless the run failed before its spawn (then awaited here).
  const set = await opening;
  if (output && set) {
    // Independent round trips (seal requests, file-artifact query): side by side.
    await Promise.all([output.settle(set, outcome, log), output.finalizeFiles(row.id, outcome, log)]);
  }
  return outcome;
}
