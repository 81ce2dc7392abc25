/**
 * Worker identity and the `capabilities` JSON written at registration (spec 01 §4.2–§4.4).
 * Pure: everything (config, env, hostname, detection results, tier-3 DB names) comes in as
 * data; problems come back as warnings for the caller to log.
 */
import type { Taint, WorkerConfig, WorkerType } from '../config/types';
import type { DetectedRuntime } from '../detect/detected-runtime';
import { WORKER_RUNTIMES_ENV } from '../detect/detected-runtime';
import { normalizeRuntimeName, parseRuntimeList } from '../detect/normalize';

export type Env = Readonly<Record<string, string | undefined>>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Capabilities = { [key: string]: Json };

// ---------------------------------------------------------------------------
// Identity (spec 01 §4.2)
// ---------------------------------------------------------------------------

export interface WorkerIdentity {
  name: string;
  workerType: WorkerType;
  /** Always `action` for the agent. */
  workerRole: 'action';
  /** `worker.runtime_id` (deprecated for matching) or null. */
  runtime: number | null;
  host: string | null;
  port: number | null;
}

export interface ResolveWorkerIdentityInput {
  workerConfig: Pick<WorkerConfig, 'name' | 'workerType' | 'runtimeId' | 'host' | 'port'>;
  env: Env;
  /** OS hostname, or null when it cannot be read. */
  hostname: string | null;
  /** `--name` (wins over everything; upstream applies it into `worker.name`). */
  cliName?: string | null;
}

const WORKER_TYPES: readonly WorkerType[] = ['local', 'remote', 'container'];

export function resolveWorkerIdentity(input: ResolveWorkerIdentityInput): { identity: WorkerIdentity; warnings: string[] } {
  const { workerConfig, env, hostname } = input;
  const warnings: string[] = [];

  const envName = env.ATTUNE_WORKER_NAME?.trim();
  const name =
    nonEmpty(input.cliName) ?? nonEmpty(workerConfig.name) ?? (envName ? envName : null) ?? `worker-${hostname ?? 'unknown'}`;

  let workerType: WorkerType = 'local';
  if (workerConfig.workerType) {
    workerType = workerConfig.workerType;
  } else if (env.ATTUNE_WORKER_TYPE !== undefined) {
    const raw = env.ATTUNE_WORKER_TYPE.trim().toLowerCase();
    if ((WORKER_TYPES as readonly string[]).includes(raw)) {
      workerType = raw as WorkerType;
    } else {
      warnings.push(
        `Ignoring ATTUNE_WORKER_TYPE='${env.ATTUNE_WORKER_TYPE}': expected one of ${WORKER_TYPES.join(', ')}; using 'local'`,
      );
    }
  }

  return {
    identity: {
      name,
      workerType,
      workerRole: 'action',
      runtime: workerConfig.runtimeId ?? null,
      host: nonEmpty(workerConfig.host) ?? (hostname && hostname.length > 0 ? hostname : null),
      port: workerConfig.port ?? null,
    },
    warnings,
  };
}

function nonEmpty(value: string | null | undefined): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

// ---------------------------------------------------------------------------
// Runtimes list, three tiers (spec 01 §4.4)
// ---------------------------------------------------------------------------

export type RuntimeTier = 'env' | 'config' | 'database';

/** Which tier decides `runtimes`. Tier 3 needs DB rows + probes; call this to know whether to run them. */
export function runtimeTier(workerConfig: Pick<WorkerConfig, 'capabilities'>, env: Env): RuntimeTier {
  if (env[WORKER_RUNTIMES_ENV] !== undefined) return 'env';
  if (configRuntimes(workerConfig.capabilities).length > 0) return 'config';
  return 'database';
}

function configRuntimes(capabilities: Readonly<Record<string, unknown>> | null): string[] {
  const list = capabilities?.runtimes;
  if (!Array.isArray(list)) return [];
  return list.filter((v): v is string => typeof v === 'string').map((v) => v.toLowerCase());
}

// ---------------------------------------------------------------------------
// Capabilities (spec 01 §4.3)
// ---------------------------------------------------------------------------

export interface BuildCapabilitiesInput {
  workerConfig: Pick<WorkerConfig, 'maxConcurrentTasks' | 'labels' | 'taints' | 'capabilities'>;
  env: Env;
  /** Bootstrap detection result; null/undefined = not agent start-up mode (no interpreter keys). */
  detected?: readonly DetectedRuntime[] | null;
  /** Crate/agent version for `worker_version`. */
  agentVersion: string;
  /** Tier 3: lower-cased `runtime.name`s of DB runtimes verified available here. */
  dbRuntimeNames?: readonly string[];
}

export interface BuiltCapabilities {
  capabilities: Capabilities;
  /** Invalid labels/taints etc.: upstream warns and omits the key (spec 01 §2.3). */
  warnings: string[];
  tier: RuntimeTier;
}

/**
 * Build `worker.capabilities` in upstream's order (later writes win on the same key):
 * constructor keys, then `runtimes` + config capability keys, the `native` append, and the
 * agent-mode extras. (JSONB stores keys in its own order; the order matters only for logs.)
 */
export function buildCapabilities(input: BuildCapabilitiesInput): BuiltCapabilities {
  const { workerConfig, env } = input;
  const warnings: string[] = [];
  const caps: Capabilities = {};

  // 1. Constructor.
  caps.max_concurrent_executions = workerConfig.maxConcurrentTasks;
  caps.worker_version = input.agentVersion;
  if (isTruthyFlag(env.ATTUNE_AGENT_MODE)) caps.agent_mode = true;
  const binaryName = env.ATTUNE_AGENT_BINARY_NAME?.trim();
  if (binaryName) caps.agent_binary_name = binaryName;
  const binaryVersion = env.ATTUNE_AGENT_BINARY_VERSION?.trim();
  if (binaryVersion) caps.agent_binary_version = binaryVersion;

  const labelProblem = validateLabels(workerConfig.labels);
  if (labelProblem) {
    warnings.push(`Invalid worker labels, not advertised: ${labelProblem}`);
  } else if (Object.keys(workerConfig.labels).length > 0) {
    caps.labels = { ...workerConfig.labels };
  }

  const taintProblem = validateTaints(workerConfig.taints);
  if (taintProblem) {
    warnings.push(`Invalid worker taints, not advertised: ${taintProblem}`);
  } else if (workerConfig.taints.length > 0) {
    caps.taints = workerConfig.taints.map(taintJson);
  }
  caps.runtimes = [];

  // 2. detect_capabilities: runtimes + every non-`runtimes` key of worker.capabilities.
  const tier = runtimeTier(workerConfig, env);
  let runtimes: string[];
  if (tier === 'env') runtimes = parseRuntimeList(env[WORKER_RUNTIMES_ENV] ?? '');
  else if (tier === 'config') runtimes = configRuntimes(workerConfig.capabilities);
  else runtimes = (input.dbRuntimeNames ?? []).map((n) => n.toLowerCase());
  caps.runtimes = runtimes;
  for (const [key, value] of Object.entries(workerConfig.capabilities ?? {})) {
    if (key !== 'runtimes') caps[key] = toJson(value);
  }

  // f3e5d1c: `native` is always advertised.
  if (!runtimes.some((r) => normalizeRuntimeName(r) === 'native')) caps.runtimes = [...runtimes, 'native'];

  // 3. Agent start-up mode extras.
  if (input.detected) {
    caps.detected_interpreters = input.detected.map((d) => ({ name: d.name, path: d.path, version: d.version }));
    caps.runtime_versions = buildDetectedRuntimeVersions(input.detected);
    caps.agent_mode = true;
  }

  return { capabilities: caps, warnings, tier };
}

/**
 * spec 01 §4.3: `{ <normalised name>: [versions] }` from detected entries with a non-blank
 * version; each list sorted ascending as plain strings, de-duplicated.
 */
export function buildDetectedRuntimeVersions(detected: readonly DetectedRuntime[]): { [name: string]: string[] } {
  const byName = new Map<string, Set<string>>();
  for (const d of detected) {
    if (d.version === null || d.version.trim() === '') continue;
    const name = normalizeRuntimeName(d.name);
    const set = byName.get(name) ?? new Set<string>();
    set.add(d.version);
    byName.set(name, set);
  }
  const out: { [name: string]: string[] } = {};
  for (const name of [...byName.keys()].sort()) {
    out[name] = [...(byName.get(name) ?? [])].sort(compareStrings);
  }
  return out;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isTruthyFlag(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  return v === '1' || v === 'true';
}

/** Label keys must be non-empty and values non-blank (spec 01 §2.3). */
export function validateLabels(labels: Readonly<Record<string, unknown>>): string | null {
  for (const [key, value] of Object.entries(labels)) {
    if (key.trim() === '') return 'label keys must not be empty';
    if (typeof value !== 'string' || value.trim() === '') return `label '${key}' must have a non-blank value`;
  }
  return null;
}

/** Taint key non-empty, value (when present) non-blank, effect no_schedule | prefer_no_schedule. */
export function validateTaints(taints: readonly Taint[]): string | null {
  for (const [i, t] of taints.entries()) {
    if (typeof t.key !== 'string' || t.key.trim() === '') return `taint #${i + 1} has an empty key`;
    if (t.value !== undefined && t.value !== null && (typeof t.value !== 'string' || t.value.trim() === '')) {
      return `taint '${t.key}' has a blank value`;
    }
    if (t.effect !== 'no_schedule' && t.effect !== 'prefer_no_schedule') {
      return `taint '${t.key}' has effect '${String(t.effect)}' (expected no_schedule or prefer_no_schedule)`;
    }
  }
  return null;
}

function taintJson(t: Taint): Json {
  // `value` is omitted when absent (spec 01 §4.3).
  return t.value !== undefined && t.value !== null
    ? { key: t.key, value: t.value, effect: t.effect }
    : { key: t.key, effect: t.effect };
}

function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}
