/**
 * `attune-agent exec`: run one pack action locally with the agent's own engine — same runtime
 * selection, environment setup, parameter delivery, output parsing and status mapping as on a
 * worker — without PostgreSQL or RabbitMQ, and print the result JSON.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/types';
import { AgentError, formatErrorChain } from '../errors';
import { captureChildBaseEnv } from '../execution/child-env';
import { runExecution } from '../execution/execute';
import { createBuiltinRuntimeRegistry, type RuntimeRegistry } from '../execution/runtimes';
import type { ExecutionOutcome } from '../execution/types';
import { ensureRuntimeEnvironment, resolveEnvDir } from '../envs';
import type { Logger } from '../log';
import { loadLocalAction } from './pack';
import { buildLocalRequest } from './request';

/** The slice of `Config` the local runner reads. */
export type LocalRunConfig = Pick<Config, 'runtimeEnvsDir' | 'artifactsDir' | 'defaultExecutionTimeoutSec' | 'server'> & {
  readonly worker: Pick<Config['worker'], 'passthroughEnv' | 'maxStdoutBytes' | 'maxStderrBytes'>;
};

const DEFAULT_RUNTIME_ENVS_DIR = '/opt/attune/runtime_envs';
const DEFAULT_ARTIFACTS_DIR = '/opt/attune/artifacts';

export interface RunLocalOptions {
  /** `pack.action` or a path to an action YAML file. */
  target: string;
  /** `--param key=value` flags, in order. */
  params?: readonly string[];
  paramsFile?: string | null;
  packsDir?: string | null;
  timeoutSec?: number | null;
  /** Loaded agent config: runtime_envs_dir, limits, passthrough_env, API URL, default timeout. */
  config?: LocalRunConfig | null;
  /** The agent's process environment (baseline source, `ATTUNE_API_URL`). */
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  log: Logger;
  /** Cancels the run like a cancel message (spec 03 §6.3). */
  signal?: AbortSignal;
  /** Live stderr of the action (its stdout ends up in the result). */
  onStderr?: (chunk: Buffer) => void;
  /** Test seam; default the built-in runtime definitions. */
  registry?: RuntimeRegistry;
}

export interface RunLocalResult {
  /** 0 when the execution completed, else 1. */
  exitCode: number;
  /** Pretty JSON `{ action, status, result }` plus a trailing newline. */
  output: string;
  outcome: ExecutionOutcome;
}

/** Nearest existing ancestor is writable (so the env dir can be created below it). */
function isCreatable(dir: string): boolean {
  let current = resolve(dir);
  for (;;) {
    if (existsSync(current)) {
      try {
        accessSync(current, constants.W_OK);
        return true;
      } catch {
        return false;
      }
    }
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}

/**
 * Load, validate parameters (before anything runs), set up the runtime environment, run.
 * Throws `UsageError` / `AgentError('ACTION_INVALID')` for problems found before the run.
 */
export async function runLocal(opts: RunLocalOptions): Promise<RunLocalResult> {
  const log = opts.log.child({ component: 'exec' });
  const config = opts.config ?? null;
  const action = loadLocalAction({ target: opts.target, packsDir: opts.packsDir, cwd: opts.cwd });

  let runtimeEnvsDir = config?.runtimeEnvsDir ?? DEFAULT_RUNTIME_ENVS_DIR;
  if (!isCreatable(runtimeEnvsDir)) {
    // A pack author's machine usually has no writable /opt/attune; keep envs in the temp dir.
    const fallback = join(tmpdir(), 'attune-agent-exec', 'runtime_envs');
    log.info({ configured: runtimeEnvsDir, using: fallback }, 'runtime_envs_dir not writable; using a temp directory');
    runtimeEnvsDir = fallback;
  }
  const baseEnv = captureChildBaseEnv(opts.env, config?.worker.passthroughEnv ?? []);
  const server = config?.server ?? { host: '0.0.0.0', port: 8080 };
  const request = buildLocalRequest(action, {
    params: opts.params,
    paramsFile: opts.paramsFile,
    cwd: opts.cwd,
    timeoutSec: opts.timeoutSec,
    defaultTimeoutSec: config?.defaultExecutionTimeoutSec,
    baseEnv,
    runtimeEnvsDir,
    artifactsDir: config?.artifactsDir ?? DEFAULT_ARTIFACTS_DIR,
    apiUrl: opts.env.ATTUNE_API_URL ?? `http://${server.host}:${server.port}`,
    envDir: null,
    maxStdoutBytes: config?.worker.maxStdoutBytes,
    maxStderrBytes: config?.worker.maxStderrBytes,
  });

  const registry = opts.registry ?? createBuiltinRuntimeRegistry();
  const runtime = registry.runtimes.find((r) => r.name === action.runtimeName);
  if (runtime?.config.environment) {
    const envDir = await resolveEnvDir({
      runtimeEnvsDir,
      packRef: action.packRef,
      runtimeName: runtime.name,
      packDir: action.packDir,
      runtimeConfig: runtime.config,
      env: opts.env,
    });
    const ensured = await ensureRuntimeEnvironment({
      envDir,
      packDir: action.packDir,
      runtimeConfig: runtime.config,
      baseEnv,
      log,
      signal: opts.signal,
    });
    if (!ensured.ok) {
      // spec 03 §7.3 step 3: only a warning; the action runs with the system interpreter.
      log.warn({ envDir, error: ensured.error, output: ensured.output }, 'runtime environment setup failed; using the system interpreter');
    }
    request.envDir = envDir;
  }

  const outcome = await runExecution(request, {
    log,
    signal: opts.signal,
    registry,
    onOutput: opts.onStderr ? (stream, chunk) => stream === 'stderr' && opts.onStderr?.(chunk) : undefined,
  });
  const output = `${JSON.stringify({ action: action.ref, status: outcome.status, result: outcome.result }, null, 2)}\n`;
  return { exitCode: outcome.status === 'completed' ? 0 : 1, output, outcome };
}

export interface RunExecCommandOptions {
  target: string;
  params: string[];
  paramsFile?: string;
  packsDir?: string;
  timeoutSec?: number;
  config?: LocalRunConfig | null;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  log: Logger;
  signal?: AbortSignal;
}

/**
 * The whole `exec` command: run, print the result JSON on stdout, mirror the action's stderr
 * live on stderr. Returns the exit code: 0 completed, 1 any other status or error, 2 usage error.
 */
export async function runExecCommand(opts: RunExecCommandOptions): Promise<number> {
  try {
    const { exitCode, output } = await runLocal({
      ...opts,
      onStderr: (chunk) => opts.stderr.write(chunk),
    });
    opts.stdout.write(output);
    return exitCode;
  } catch (e) {
    opts.stderr.write(`${formatErrorChain(e)}\n`);
    return e instanceof AgentError ? e.exitCode : 1;
  }
}
