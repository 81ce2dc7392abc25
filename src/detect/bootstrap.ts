import { WORKER_RUNTIMES_ENV, formatRuntimesEnvValue, type DetectedRuntime } from './detected-runtime';
import { detectRuntimes } from './probe';

export interface BootstrapDetectionOptions {
  /** The agent's own environment; only `ATTUNE_WORKER_RUNTIMES` is read. Never mutated. */
  env: Readonly<Record<string, string | undefined>>;
  /** Environment for lookups and probes (captured child env, spec 01 §3.6). */
  childEnv: Record<string, string>;
  probeTimeoutMs?: number;
  /** Existence check for the `/bin/bash`, `/bin/sh` fast path; injectable for tests. */
  fileExists?: (path: string) => boolean;
}

export interface BootstrapDetectionResult {
  /** Agent-mode runtime list, or null ("result = none": plain Worker startup, spec 01 §3.4). */
  detected: DetectedRuntime[] | null;
  /** Value the caller must put into `ATTUNE_WORKER_RUNTIMES`, or null to leave it alone. */
  setWorkerRuntimes: string | null;
  /** Whether `ATTUNE_WORKER_RUNTIMES` was already set (even to ''), i.e. a user override. */
  overrideSet: boolean;
  /** Upstream's warning lines, for the caller to log at warn level. */
  warnings: string[];
}

/**
 * spec 01 §3.4 (upstream `bootstrap_runtime_env`). Pure apart from the probes: the caller
 * applies `setWorkerRuntimes` to process.env.
 *
 * - Var unset: detect; if anything was found, `setWorkerRuntimes` = comma-joined names.
 * - Var set (any value, even empty): detect, then keep the runtimes whose canonical name equals
 *   a trimmed token ASCII-case-insensitively. No alias normalisation — `nodejs` does not keep
 *   `node` (upstream quirk, spec 01 §9.5). The var is never changed.
 */
export async function bootstrapDetection(opts: BootstrapDetectionOptions): Promise<BootstrapDetectionResult> {
  const override = opts.env[WORKER_RUNTIMES_ENV];
  const detected = await detectRuntimes({
    env: opts.childEnv,
    probeTimeoutMs: opts.probeTimeoutMs,
    fileExists: opts.fileExists,
  });

  if (override === undefined) {
    if (detected.length === 0) {
      return {
        detected: null,
        setWorkerRuntimes: null,
        overrideSet: false,
        warnings: ['No runtimes detected! The agent may not be able to execute any work.'],
      };
    }
    return { detected, setWorkerRuntimes: formatRuntimesEnvValue(detected), overrideSet: false, warnings: [] };
  }

  const tokens = override.split(',').map((token) => asciiLowercase(token.trim()));
  const filtered = detected.filter((rt) => tokens.includes(asciiLowercase(rt.name)));
  if (filtered.length === 0) {
    return {
      detected: null,
      setWorkerRuntimes: null,
      overrideSet: true,
      warnings: [`None of the override runtimes (${override}) were found on this system`],
    };
  }
  return { detected: filtered, setWorkerRuntimes: null, overrideSet: true, warnings: [] };
}

// Upstream compares with `to_ascii_lowercase`; String#toLowerCase would also fold non-ASCII
// letters (e.g. U+212A KELVIN SIGN → `k`).
function asciiLowercase(value: string): string {
  return value.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
