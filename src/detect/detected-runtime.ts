/** The variable the bootstrap sets and the worker service reads (spec 01 §1.3, §3.5). */
export const WORKER_RUNTIMES_ENV = 'ATTUNE_WORKER_RUNTIMES';

/**
 * One interpreter found on this system (spec 01 §3.4 `DetectedRuntime`): serialised with
 * exactly these field names into `capabilities.detected_interpreters` and `--detect-only --json`.
 */
export interface DetectedRuntime {
  /** Canonical agent name from the candidate table (`shell`, `python`, `node`, … `r`, `perl`). */
  name: string;
  /** Path exactly as found (absolute unless PATH holds relative entries). */
  path: string;
  /** Parsed version, or null when the probe failed, timed out or printed nothing parseable. */
  version: string | null;
}

/** spec 01 §3.4 / upstream `format_as_env_value`: canonical names joined by `,`, no spaces. */
export function formatRuntimesEnvValue(runtimes: readonly DetectedRuntime[]): string {
  return runtimes.map((r) => r.name).join(',');
}

/** Display form used in log lines only (spec 01 §3.4): `name (path, vX)` or `name (path)`. */
export function describeDetectedRuntime(runtime: DetectedRuntime): string {
  return runtime.version === null
    ? `${runtime.name} (${runtime.path})`
    : `${runtime.name} (${runtime.path}, v${runtime.version})`;
}
