/**
 * From request to process spec (spec 03 §1.3–§1.6, §2, §3): runtime selection, action file,
 * interpreter, child environment, parameter delivery and temp files. Throws `PrepareFailure` /
 * `RuntimeFailure` for the "failed without a run" paths.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';
import type { EnvMap } from './child-env';
import { resolveActionFile, displayActionPath } from './entrypoint';
import {
  applyRuntimeEnvVars,
  buildContextEnv,
  composeChildEnv,
  mergeExecutionEnv,
  resolveTemplate,
  validateExecutionEnvVars,
} from './environment';
import { describeIoError, runtimeError } from './failures';
import {
  buildShellInlineWrapper,
  formatParameters,
  parseOutputFormat,
  parseParameterDelivery,
  parseParameterFormat,
  toParameterMap,
  type ParameterMap,
} from './parameters';
import type { ProcessSpec } from './run';
import { parseRuntimeExecutionConfig, selectRuntime, type RuntimeDefinition, type RuntimeRegistry } from './runtimes';
import type { ExecutionRequest, RuntimeExecutionConfig } from './types';

export interface PlannedProcess {
  spec: ProcessSpec;
  runtime: RuntimeDefinition;
  /** Parameter file / inline script; deleted after the run (spec 03 §9). */
  tempFiles: string[];
}

export interface PlanDeps {
  registry: RuntimeRegistry;
  tmpDir: string;
  log: Logger;
}

const RANDOM_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomSuffix(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += RANDOM_CHARS[b % RANDOM_CHARS.length];
  return s;
}

type Owner = { uid: number; gid: number } | null | undefined;

/**
 * Exclusive create (like `tempfile`), retrying on a name clash. Returns the path. With `owner`
 * (worker.run_as_user) the file is chowned before any content is written, so the action's user
 * can read its own 0400 parameter file and no other unprivileged user ever could.
 */
function createExclusive(dir: string, name: () => string, mode: number, content: string, owner?: Owner): string {
  for (let attempt = 0; ; attempt++) {
    const file = path.join(dir, name());
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx', mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 100) continue;
      throw e;
    }
    try {
      if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
      // The fd was opened for writing before the mode applied, so a 0400 file is still writable here.
      fs.writeSync(fd, content);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw e;
    }
    fs.closeSync(fd);
    return file;
  }
}

function exists(p: string): boolean {
  return fs.existsSync(p);
}

/** `resolve_interpreter_with_env`: the env interpreter when the env dir and that path exist. */
function resolveInterpreter(config: RuntimeExecutionConfig, packDir: string, envDir: string | null, log: Logger): string {
  const template = config.environment?.interpreter_path;
  const binary = config.interpreter?.binary ?? '';
  if (template && envDir !== null) {
    if (exists(envDir)) {
      const resolved = resolveTemplate(template, { env_dir: envDir, pack_dir: packDir });
      if (exists(resolved)) return resolved;
      log.warn({ interpreter: resolved, fallback: binary }, 'environment interpreter missing; using the system interpreter');
    } else {
      log.warn({ envDir, fallback: binary }, 'runtime environment directory missing; using the system interpreter');
    }
  }
  return binary;
}

/** spec 03 §1.6: a path must exist; a bare name must exist in a baseline `PATH` entry. */
export function interpreterIsAvailable(interpreter: string, baseEnv: Readonly<EnvMap>): boolean {
  if (path.isAbsolute(interpreter) || interpreter.includes('/')) return exists(interpreter);
  const searchPath = baseEnv.PATH;
  if (searchPath === undefined) return false;
  return searchPath.split(':').some((dir) => exists(path.join(dir, interpreter)));
}

interface Delivery {
  stdinContent: string | null;
}

/**
 * spec 03 §2.2: markers into `explicit`; stdin document or a 0400 temp file (no trailing
 * newline) whose path is exported as `ATTUNE_PARAMETER_FILE`.
 */
function prepareParameters(params: ParameterMap, request: ExecutionRequest, explicit: EnvMap, tmpDir: string, tempFiles: string[]): Delivery {
  const delivery = parseParameterDelivery(request.parameterDelivery);
  const format = parseParameterFormat(request.parameterFormat);
  const document = formatParameters(params, format);
  explicit.ATTUNE_PARAMETER_DELIVERY = delivery;
  explicit.ATTUNE_PARAMETER_FORMAT = format;
  if (delivery === 'stdin') return { stdinContent: document };
  let file: string;
  try {
    file = createExclusive(tmpDir, () => `.tmp${randomSuffix(6)}`, 0o400, document, request.runAs);
  } catch (e) {
    throw runtimeError.io(e);
  }
  tempFiles.push(file);
  explicit.ATTUNE_PARAMETER_FILE = file;
  return { stdinContent: null };
}

function removeQuietly(files: readonly string[]): void {
  for (const f of files) {
    try {
      fs.rmSync(f, { force: true });
    } catch {
      // best effort; nothing secret-bearing is logged
    }
  }
}

export function cleanupTempFiles(files: readonly string[]): void {
  removeQuietly(files);
}

/** Build the process spec. On failure, temp files created so far are removed before throwing. */
export function planExecution(request: ExecutionRequest, deps: PlanDeps): PlannedProcess {
  const tempFiles: string[] = [];
  try {
    return planInner(request, deps, tempFiles);
  } catch (e) {
    removeQuietly(tempFiles);
    throw e;
  }
}

function planInner(request: ExecutionRequest, deps: PlanDeps, tempFiles: string[]): PlannedProcess {
  const { log } = deps;
  const params = toParameterMap(request.parameters);

  // --- context preparation (spec 03 §1.2 step 4): failures are `Failed to prepare …` ---
  const explicit = buildContextEnv({
    executionId: request.executionId,
    actionRef: request.actionRef,
    context: request.context,
    parameters: params,
  });
  const executionEnv = validateExecutionEnvVars(request.envVars);

  // spec 03 §1.5: pack actions (core or non-ad-hoc) run the file under `actions/`.
  let codePath: string | null = null;
  if (request.packRef.startsWith('core') || !request.isAdhoc) {
    const resolved = resolveActionFile(request.packDir, request.entrypoint);
    if (resolved.kind === 'invalid') throw resolved.error;
    if (resolved.kind === 'file') codePath = resolved.path;
    else log.warn({ expectedPath: resolved.expectedPath, packDirExists: exists(request.packDir) }, 'action file not found');
  }
  // A shell action without a file runs its entrypoint string as inline code (upstream quirk).
  const inlineCode = request.runtimeName === 'shell' && codePath === null ? request.entrypoint : null;
  const workingDir = exists(request.packDir) ? request.packDir : undefined;

  // --- runtime (spec 03 §1.2 step 6): failures are `Action execution failed: Internal error: …` ---
  const runtime = selectRuntime(deps.registry, request.runtimeName, request.actionRef, codePath, request.entrypoint);
  const outputFormat = parseOutputFormat(request.outputFormat);
  const specBase = {
    timeoutSec: request.timeoutSec,
    maxStdoutBytes: request.maxStdoutBytes,
    maxStderrBytes: request.maxStderrBytes,
    outputFormat,
    ...(request.runAs ? { uid: request.runAs.uid, gid: request.runAs.gid } : {}),
  };

  if (runtime.kind === 'native') {
    // NativeRuntime applies (a), (c), (d) only; cwd is not set (spec 03 §1.6, §3.1).
    const delivery = prepareParameters(params, request, explicit, deps.tmpDir, tempFiles);
    mergeExecutionEnv(explicit, executionEnv, log);
    if (codePath === null) throw runtimeError.invalidAction('Native runtime requires code_path to be set');
    let mode: number;
    try {
      mode = fs.statSync(codePath).mode;
    } catch {
      throw runtimeError.executionFailed(`Binary not found: ${codePath}`);
    }
    if ((mode & 0o111) === 0) throw runtimeError.executionFailed(`Binary is not executable: ${codePath}`);
    return {
      runtime,
      tempFiles,
      spec: { ...specBase, command: codePath, args: [], cwd: undefined, env: composeChildEnv(request.baseEnv, explicit), stdinContent: delivery.stdinContent },
    };
  }

  let config = parseRuntimeExecutionConfig(request.runtimeConfig ?? runtime.config);
  let envDir = config.environment ? request.envDir : null;
  let interpreter = resolveInterpreter(config, request.packDir, envDir, log);
  if (request.fallbackRuntimeConfig && !interpreterIsAvailable(interpreter, request.baseEnv)) {
    // spec 03 §1.6: a version override whose interpreter is missing falls back to the parent.
    log.warn({ interpreter }, 'runtime version interpreter unavailable; falling back to the base runtime');
    config = parseRuntimeExecutionConfig(request.fallbackRuntimeConfig);
    envDir = config.environment ? request.envDir : null;
    interpreter = resolveInterpreter(config, request.packDir, envDir, log);
  }
  if (!interpreterIsAvailable(interpreter, request.baseEnv)) {
    throw runtimeError.setup(`Interpreter '${interpreter}' is not available for action '${request.actionRef}' on this worker`);
  }

  // (b) runtime env_vars, templates per spec 03 §3.3 / §7.1.
  const templateVars: Record<string, string> = { pack_dir: request.packDir };
  if (envDir !== null) templateVars.env_dir = envDir;
  templateVars.interpreter = interpreter;
  if (config.dependencies) templateVars.manifest_path = path.join(request.packDir, config.dependencies.manifest_file ?? '');
  applyRuntimeEnvVars(explicit, request.baseEnv, config.env_vars, templateVars, log);

  const delivery = prepareParameters(params, request, explicit, deps.tmpDir, tempFiles);
  mergeExecutionEnv(explicit, executionEnv, log);
  const env = composeChildEnv(request.baseEnv, explicit);
  const interpreterArgs = config.interpreter?.args ?? [];

  let args: string[];
  let stdinContent = delivery.stdinContent;
  if (codePath !== null) {
    args = [...interpreterArgs, codePath];
  } else if (inlineCode !== null) {
    const inline = config.inline_execution;
    if (inline?.strategy === 'temp_file') {
      const file = materializeInlineCode(request, params, inlineCode, config, deps.tmpDir);
      tempFiles.push(file);
      // With the helper wrapper the parameters are shell variables; stdin gets EOF only (§2.4).
      if (inline.inject_shell_helpers) stdinContent = null;
      args = [...interpreterArgs, file];
    } else {
      args = ['-c', inlineCode]; // `direct` drops interpreter.args (spec 03 §1.6)
    }
  } else {
    // Ad-hoc non-core actions: retry the pack file, with the same containment checks.
    const retry = resolveActionFile(request.packDir, request.entrypoint);
    if (retry.kind === 'invalid') throw retry.error;
    if (retry.kind === 'missing') {
      throw runtimeError.invalidAction(
        `No executable content found for action '${request.actionRef}'. Expected file at: ${displayActionPath(request.packDir, request.entrypoint)}`,
      );
    }
    args = [...interpreterArgs, retry.path];
  }
  return { runtime, tempFiles, spec: { ...specBase, command: interpreter, args, cwd: workingDir, env, stdinContent } };
}

/** spec 03 §1.6 `temp_file`: `{TMPDIR}/attune/inline_actions/exec_{id}_<rand>{ext}`. */
function materializeInlineCode(
  request: ExecutionRequest,
  params: ParameterMap,
  code: string,
  config: RuntimeExecutionConfig,
  tmpDir: string,
): string {
  const dir = path.join(tmpDir, 'attune', 'inline_actions');
  const rawExt = config.inline_execution?.extension ?? '';
  const ext = rawExt === '' ? '' : rawExt.startsWith('.') ? rawExt : `.${rawExt}`;
  const content = config.inline_execution?.inject_shell_helpers ? buildShellInlineWrapper(params, code) : code;
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw runtimeError.executionFailed(`Failed to create inline action directory ${dir}: ${describeIoError(e)}`);
  }
  try {
    return createExclusive(dir, () => `exec_${request.executionId}_${randomSuffix(6)}${ext}`, 0o600, content, request.runAs);
  } catch (e) {
    throw runtimeError.executionFailed(`Failed to create inline action file in ${dir}: ${describeIoError(e)}`);
  }
}
