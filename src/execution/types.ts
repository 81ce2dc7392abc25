/**
 * Plain-data contract of the execution engine (spec 03 §1–§6). Adapters (DB/MQ, the `exec`
 * runner) build an `ExecutionRequest` from rows/files and get back an `ExecutionOutcome`;
 * the engine itself never touches PostgreSQL or RabbitMQ (STYLE.md "Dependency direction").
 */
import type { EnvMap } from './child-env';

export type ParameterDelivery = 'stdin' | 'file';
export type ParameterFormat = 'json' | 'dotenv' | 'yaml';
export type OutputFormat = 'text' | 'json' | 'yaml' | 'jsonl';

/** spec 03 §3.3: a runtime env var is a template string (`set`) or an operation object. */
export interface RuntimeEnvVarSpec {
  value: string;
  operation?: 'set' | 'prepend' | 'append';
  /** Default ":". */
  separator?: string;
}

/**
 * `runtime.execution_config` / `runtime_version.execution_config` JSON (spec 03 §7.1), snake_case
 * exactly as stored. All fields optional: the engine validates defensively.
 */
export interface RuntimeExecutionConfig {
  interpreter?: { binary?: string; args?: string[]; file_extension?: string | null };
  inline_execution?: { strategy?: 'direct' | 'temp_file'; extension?: string | null; inject_shell_helpers?: boolean };
  environment?: {
    env_type?: string;
    dir_name?: string;
    create_command?: string[];
    interpreter_path?: string | null;
  } | null;
  dependencies?: { manifest_file?: string; install_command?: string[] } | null;
  env_vars?: Record<string, string | RuntimeEnvVarSpec>;
}

/** Values for the worker-provided `ATTUNE_*` variables (spec 03 §3.2). */
export interface ExecutionContextVars {
  /** Worker's API URL before the 0.0.0.0 / [::] rewrite (the engine rewrites it). */
  apiUrl: string;
  artifactsDir: string;
  runtimeEnvsDir: string;
  packReleaseDigest?: string | null;
  traceTag?: string | null;
  /** Execution-scoped JWT; only set when `permission_set_refs` is non-empty (spec 03 §3.2). */
  apiToken?: string | null;
  rule?: string | null;
  trigger?: string | null;
}

/** Optional file-backed log artifacts (spec 03 §9). The adapter decides the paths. */
export interface LogFilePaths {
  /** Absolute path the bounded stdout copy is written to (created/truncated). */
  stdoutPath?: string | null;
  /** Absolute path the bounded stderr copy is written to; reported as `result.stderr_log`. */
  stderrPath?: string | null;
}

export interface ExecutionRequest {
  executionId: number;
  actionRef: string;
  /** `action_ref` up to the first `.` (spec 03 §1.1 step 5). */
  packRef: string;
  /** `action.entrypoint` (may contain sub-directories; for inline shell: the code itself). */
  entrypoint: string;
  /** Lower-cased `runtime.name` (`shell`, `python`, `node.js`, `native`, …) or null. */
  runtimeName: string | null;
  isAdhoc: boolean;
  /** Raw column values; parsed case-insensitively, null/unknown → defaults (spec 03 §2.2). */
  parameterDelivery: string | null;
  parameterFormat: string | null;
  outputFormat: string | null;
  /** `action.out_schema` JSON, for result redaction (spec 03 §4.5). */
  outSchema: unknown;
  /**
   * Effective `execution_config` (version override or parent runtime). null → the runtime
   * registry's own config for `runtimeName` (built-in definitions when no DB rows).
   */
  runtimeConfig: RuntimeExecutionConfig | null;
  /** Parent runtime config when `runtimeConfig` is a version override (interpreter fallback, spec 03 §1.6). */
  fallbackRuntimeConfig?: RuntimeExecutionConfig | null;
  /** Resolved pack directory (release dir or `{packs_base_dir}/{pack_ref}`). */
  packDir: string;
  /** The parameter document, secrets already restored (spec 03 §2.1). Non-object → `{}`. */
  parameters: unknown;
  /** JSON pointers of restored secret parameters (`execution_secret_value` rows). */
  secretParameterPaths: readonly string[];
  /** `execution.env_vars` as stored (unvalidated; spec 03 §3.1 (d)). */
  envVars: unknown;
  /** Effective timeout in seconds (spec 03 §6.1), > 0. */
  timeoutSec: number;
  context: ExecutionContextVars;
  maxStdoutBytes: number;
  maxStderrBytes: number;
  /** Child baseline from `captureChildBaseEnv` (spec 03 §3.1 step 2). */
  baseEnv: EnvMap;
  /**
   * Resolved runtime environment dir (venv / node_modules, spec 03 §7.2) when the effective
   * runtime config has an `environment` section, else null (`{env_dir}` then stays literal,
   * §3.3). Its `interpreter_path` is used when that file exists (§7.3).
   */
  envDir: string | null;
  logFiles?: LogFilePaths | null;
  /**
   * Where to write the pretty-printed parsed `data` (`{artifacts_dir}/execution_{id}/result.json`,
   * spec 03 §4.6). null/absent → not written.
   */
  resultFilePath?: string | null;
  /**
   * Spawn the action as this uid/gid (`worker.run_as_user`, our own key); the parameter file and
   * inline script are chowned to it. null/absent → the agent's own user. The agent must be root.
   */
  runAs?: { uid: number; gid: number } | null;
}

export type ExecutionStatus = 'completed' | 'failed' | 'timeout' | 'cancelled';

/** One original value replaced by the redaction marker in `result` (spec 03 §4.5, spec 04 §6.3). */
export interface RedactedResultValue {
  /** JSON pointer into `execution.result`, e.g. `/data/token`, `/stdout`, `/error`. */
  jsonPath: string;
  value: unknown;
  /** `execution_secret_value.source_kind`. */
  sourceKind: string;
  /** `execution_secret_value.source_ref`. */
  sourceRef: string | null;
}

export interface ExecutionOutcome {
  status: ExecutionStatus;
  /** The `execution.result` JSON exactly as upstream writes it (after redaction). */
  result: Record<string, unknown>;
  /** Originals of redacted values; the adapter encrypts and upserts them (entity `execution_result`). */
  redactedValues: RedactedResultValue[];
  /** Where it ended: before spawn (`prepare` / `runtime` error) or after a run (`ran`). */
  phase: 'prepare' | 'runtime' | 'ran';
  /** null when no process ran. */
  exitCode: number | null;
  durationMs: number | null;
  /** The cancel signal fired (spec 03 §5 rule 1, as opposed to the substring quirk). */
  wasCancelled: boolean;
}
