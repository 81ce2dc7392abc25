/**
 * Lazy creation of a pack's runtime environment before an execution (spec 03 §7.3, upstream
 * `ProcessRuntime::ensure_runtime_environment` / `setup_pack_environment_with_key`).
 *
 * Differences from upstream, on purpose:
 * - setup commands have a deadline (`setupTimeoutMs`, default 600 s) that SIGKILLs their process
 *   group (upstream has none, spec 03 §11.14);
 * - setup is serialised by an in-process mutex AND a cross-process lock file `{envDir}.lock`
 *   (see lock.ts), so agents sharing `runtime_envs_dir` never build one env concurrently;
 * - a failure is remembered per (env dir, manifest digest) for `failureRetryMs` (default 5 min):
 *   until then, or until the manifest changes, later executions get the remembered error at once
 *   instead of re-running a broken `pip install` for every execution of a looping rule;
 * - an existing legacy (non content-addressed) env re-checks the dependency marker, so editing
 *   `requirements.txt` in place re-runs the install (upstream only does this on pack
 *   registration). Content-addressed envs never change: a new manifest means a new key.
 * Like upstream, failures are returned, not thrown: the caller logs a warning and runs the
 * action with the system interpreter (`interpreter.binary`).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { EnvMap } from '../execution/child-env';
import type { RuntimeExecutionConfig } from '../execution/types';
import type { Logger } from '../log';
import { PACK_REF_MARKER, READY_MARKER, sha256Hex } from './cache-key';
import { dependencyDigest } from './env-dir';
import { acquireFileLock, LockWaitError, withKeyedMutex, type FileLockHandle } from './lock';
import { buildSetupEnv, runSetupCommand, type SetupCommandResult } from './setup-command';
import { buildTemplateVars, envInterpreterPath, resolveCommand } from './templates';

export const DEPS_MARKER = '.attune_deps_installed';
export const DEFAULT_SETUP_TIMEOUT_MS = 600_000;
export const DEFAULT_FAILURE_RETRY_MS = 300_000;
/** Characters of setup stderr returned with a failure for the caller's log line. */
const ERROR_OUTPUT_CHARS = 4096;

export interface EnsureRuntimeEnvironmentOptions {
  envDir: string;
  packDir: string;
  /**
   * Owner of a content-addressed env: written to `.attune-pack-ref` so a later `pack.deleted`
   * can purge it (spec 07 §3.1 step 7, upstream `write_pack_ref_marker`).
   */
  packRef?: string;
  runtimeConfig: RuntimeExecutionConfig | null | undefined;
  /** Child baseline (spec 03 §3.1); setup commands get it plus §3.4 additions. */
  baseEnv: EnvMap;
  log: Logger;
  signal?: AbortSignal;
  /** Deadline per setup command; the process group is SIGKILLed when it passes. */
  setupTimeoutMs?: number;
  /** How long a failure is remembered for the same env dir and manifest. */
  failureRetryMs?: number;
  /** Lock-file staleness bound (see lock.ts). */
  lockStaleMs?: number;
  /** Test seam. */
  now?: () => number;
}

export type EnsureRuntimeEnvironmentResult =
  | {
      ok: true;
      /** skipped: nothing to do for this runtime; ready: env already usable; created: built now; updated: deps re-installed. */
      status: 'skipped' | 'ready' | 'created' | 'updated';
    }
  | {
      ok: false;
      /** Operator message in upstream's shape, e.g. `Environment creation failed (exit 1, stderr_bytes=42)`. */
      error: string;
      /** Tail of the failing command's stderr, for a debug log line (may be empty). */
      output: string;
      /** True when this is a remembered failure and nothing was run. */
      cached: boolean;
    };

class SetupFailure extends Error {
  constructor(
    message: string,
    readonly output = '',
    readonly aborted = false,
  ) {
    super(message);
  }
}

interface RememberedFailure {
  error: string;
  output: string;
  at: number;
}

const failures = new Map<string, RememberedFailure>();

/** Forget remembered setup failures (tests; an operator-triggered retry). */
export function clearRuntimeEnvironmentFailures(): void {
  failures.clear();
}

function recentFailure(key: string, now: number, retryMs: number): RememberedFailure | null {
  const failure = failures.get(key);
  if (!failure) return null;
  if (now - failure.at >= retryMs) {
    failures.delete(key);
    return null;
  }
  return failure;
}

function isContentAddressed(envDir: string): boolean {
  return basename(dirname(envDir)) === 'sha256';
}

async function readTrimmed(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

function isBrokenSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && !existsSync(path);
  } catch {
    return false;
  }
}

/** Create the environment for this runtime at `envDir`, or confirm it is usable. */
export async function ensureRuntimeEnvironment(
  opts: EnsureRuntimeEnvironmentOptions,
): Promise<EnsureRuntimeEnvironmentResult> {
  const environment = opts.runtimeConfig?.environment;
  // spec 03 §7.3: only with an `environment` section and an existing pack dir.
  if (!environment || !existsSync(opts.packDir)) return { ok: true, status: 'skipped' };
  if ((environment.env_type ?? '') === 'none') return { ok: true, status: 'skipped' };

  const now = opts.now ?? Date.now;
  const retryMs = opts.failureRetryMs ?? DEFAULT_FAILURE_RETRY_MS;
  const memoKey = `${opts.envDir}\0${await dependencyDigest(opts.runtimeConfig, opts.packDir)}`;
  const cachedFailure = (): EnsureRuntimeEnvironmentResult | null => {
    const f = recentFailure(memoKey, now(), retryMs);
    return f ? { ok: false, error: f.error, output: f.output, cached: true } : null;
  };

  const early = cachedFailure();
  if (early) return early;

  return withKeyedMutex(opts.envDir, async () => {
    // Another execution may have failed while we waited for the mutex.
    const waited = cachedFailure();
    if (waited) return waited;
    const setupTimeoutMs = opts.setupTimeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS;
    let lock: FileLockHandle | null = null;
    try {
      await mkdir(dirname(opts.envDir), { recursive: true });
      lock = await acquireFileLock(`${opts.envDir}.lock`, {
        // A holder runs at most a create and an install command, each bounded by the timeout.
        waitTimeoutMs: 2 * setupTimeoutMs + 60_000,
        staleMs: opts.lockStaleMs,
        signal: opts.signal,
      });
      const status = isContentAddressed(opts.envDir)
        ? await ensureContentAddressed(opts, setupTimeoutMs)
        : await ensureInPlace(opts, setupTimeoutMs);
      failures.delete(memoKey);
      return { ok: true, status } as const;
    } catch (e) {
      const failure =
        e instanceof SetupFailure
          ? e
          : e instanceof LockWaitError
            ? new SetupFailure(e.message, '', e.aborted)
            : new SetupFailure(`Runtime environment setup failed: ${(e as Error).message ?? String(e)}`);
      if (!failure.aborted) failures.set(memoKey, { error: failure.message, output: failure.output, at: now() });
      return { ok: false, error: failure.message, output: failure.output, cached: false } as const;
    } finally {
      await lock?.release();
    }
  });
}

/** `{runtime_envs_dir}/sha256/{key}`: build in a temp sibling, publish by rename. */
async function ensureContentAddressed(
  opts: EnsureRuntimeEnvironmentOptions,
  setupTimeoutMs: number,
): Promise<'ready' | 'created'> {
  const key = basename(opts.envDir);
  const markerPath = join(opts.envDir, READY_MARKER);
  const isReady = async (): Promise<boolean> => (await readTrimmed(markerPath)) === key;

  if (await isReady()) {
    const interpreter = envInterpreterPath(opts.runtimeConfig, opts.packDir, opts.envDir);
    if (interpreter === null || !isBrokenSymlink(interpreter)) return 'ready';
    // spec 03 §7.3 step 2: a venv made where python3 lived elsewhere; rebuild it.
    opts.log.warn({ envDir: opts.envDir, interpreter }, 'runtime environment has a broken interpreter symlink; recreating');
    await rm(opts.envDir, { recursive: true, force: true });
  } else if (existsSync(opts.envDir)) {
    throw new SetupFailure(`Runtime cache destination ${opts.envDir} exists without a valid ready marker`);
  }

  const temporary = join(dirname(opts.envDir), `.runtime.${randomUUID()}.tmp`);
  try {
    await createEnvironment(opts, temporary, setupTimeoutMs);
    await installDependencies(opts, temporary, setupTimeoutMs);
    validateInterpreter(opts, temporary);
    try {
      if (opts.packRef !== undefined && /^[a-z][a-z0-9_-]*$/.test(opts.packRef)) await writeFile(join(temporary, PACK_REF_MARKER), opts.packRef);
      await writeFile(join(temporary, READY_MARKER), key);
    } catch (e) {
      throw new SetupFailure(`Failed to write ready marker in ${temporary}: ${(e as Error).message}`);
    }
    try {
      await rename(temporary, opts.envDir);
    } catch (e) {
      // Another worker published the same key first: that counts as success.
      if (!(await isReady())) {
        throw new SetupFailure(`Failed to publish runtime environment ${opts.envDir}: ${(e as Error).message}`);
      }
    }
    return 'created';
  } finally {
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Legacy `{runtime_envs_dir}/{pack_ref}/{runtime}[-{version}]`: create in place, then deps. */
async function ensureInPlace(
  opts: EnsureRuntimeEnvironmentOptions,
  setupTimeoutMs: number,
): Promise<'ready' | 'created' | 'updated'> {
  let created = false;
  if (existsSync(opts.envDir)) {
    const interpreter = envInterpreterPath(opts.runtimeConfig, opts.packDir, opts.envDir);
    if (interpreter !== null && !existsSync(interpreter)) {
      // Upstream `env_needs_recreate`: missing or dangling interpreter → rebuild.
      opts.log.warn({ envDir: opts.envDir, interpreter }, 'runtime environment interpreter missing; recreating');
      await rm(opts.envDir, { recursive: true, force: true });
    }
  }
  if (!existsSync(opts.envDir)) {
    await createEnvironment(opts, opts.envDir, setupTimeoutMs);
    validateInterpreter(opts, opts.envDir);
    created = true;
  }
  const installed = await installDependencies(opts, opts.envDir, setupTimeoutMs);
  if (created) return 'created';
  return installed ? 'updated' : 'ready';
}

function validateInterpreter(opts: EnsureRuntimeEnvironmentOptions, envDir: string): void {
  const interpreter = envInterpreterPath(opts.runtimeConfig, opts.packDir, envDir);
  if (interpreter !== null && !existsSync(interpreter)) {
    throw new SetupFailure(`Runtime environment validation failed: interpreter '${interpreter}' is missing`);
  }
}

function outputTail(result: SetupCommandResult): string {
  return result.stderrTail.slice(-ERROR_OUTPUT_CHARS);
}

async function runStep(
  opts: EnsureRuntimeEnvironmentOptions,
  envDir: string,
  argv: string[],
  setupTimeoutMs: number,
  labels: { spawn: string; failed: string; timedOut: string },
): Promise<void> {
  const env = buildSetupEnv(opts.baseEnv, opts.runtimeConfig, opts.packDir, envDir, opts.log);
  const result = await runSetupCommand({ argv, cwd: opts.packDir, env, timeoutMs: setupTimeoutMs, signal: opts.signal });
  if (result.aborted) throw new SetupFailure('Runtime environment setup aborted', outputTail(result), true);
  if (result.spawnError) {
    throw new SetupFailure(`Failed to run ${labels.spawn} '${argv[0] ?? ''}': ${result.spawnError.message}`);
  }
  if (result.timedOut) {
    throw new SetupFailure(`${labels.timedOut} after ${setupTimeoutMs / 1000} seconds`, outputTail(result));
  }
  if (result.exitCode !== 0) {
    // spec 03 §7.3: the message carries the byte count, not the text (it may hold secrets).
    throw new SetupFailure(`${labels.failed} (exit ${result.exitCode}, stderr_bytes=${result.stderrBytes})`, outputTail(result));
  }
}

async function createEnvironment(
  opts: EnsureRuntimeEnvironmentOptions,
  envDir: string,
  setupTimeoutMs: number,
): Promise<void> {
  const environment = opts.runtimeConfig?.environment;
  const envType = environment?.env_type ?? '';
  const template = environment?.create_command ?? [];
  if (template.length === 0) {
    throw new SetupFailure(`Environment type '${envType}' requires a create_command but none configured`);
  }
  await mkdir(dirname(envDir), { recursive: true });
  const argv = resolveCommand(template, buildTemplateVars(opts.runtimeConfig, opts.packDir, envDir));
  opts.log.info({ envDir, envType, command: argv }, 'creating runtime environment');
  await runStep(opts, envDir, argv, setupTimeoutMs, {
    spawn: 'environment create command',
    failed: 'Environment creation failed',
    timedOut: 'Environment creation timed out',
  });
}

/** Returns true when the install command ran. */
async function installDependencies(
  opts: EnsureRuntimeEnvironmentOptions,
  envDir: string,
  setupTimeoutMs: number,
): Promise<boolean> {
  const deps = opts.runtimeConfig?.dependencies;
  if (!deps?.manifest_file) return false;
  const manifestPath = join(opts.packDir, deps.manifest_file);
  if (!existsSync(manifestPath)) return false;
  const template = deps.install_command ?? [];
  if (template.length === 0) {
    opts.log.warn({ manifest: deps.manifest_file }, 'dependency manifest found but no install_command configured');
    return false;
  }
  let checksum: string | null = null;
  try {
    checksum = sha256Hex(await readFile(manifestPath));
  } catch {
    checksum = null;
  }
  const markerPath = join(envDir, DEPS_MARKER);
  if (checksum !== null && (await readTrimmed(markerPath)) === checksum) return false;

  const argv = resolveCommand(template, buildTemplateVars(opts.runtimeConfig, opts.packDir, envDir));
  opts.log.info({ envDir, command: argv }, 'installing runtime dependencies');
  await runStep(opts, envDir, argv, setupTimeoutMs, {
    spawn: 'dependency install command',
    failed: 'Dependency installation failed',
    timedOut: 'Dependency installation timed out',
  });
  if (checksum !== null) {
    await writeFile(markerPath, checksum).catch((e: Error) => {
      opts.log.warn({ path: markerPath, err: e.message }, 'failed to write dependency marker file');
    });
  }
  return true;
}
