/**
 * Names and paths of execution log artifacts, exactly as upstream derives them (spec 06 §2.2,
 * §2.3; `executor.rs` `allocate_execution_log_artifact_with`, `artifact.rs` `compute_file_path`,
 * `validate_artifact_ref`).
 */
import type { LogStreamName } from '../db/queries/create-execution-log-streams';

export type RetentionPolicyName = 'versions' | 'days' | 'hours' | 'minutes';

/** `<action_ref>.stdout.log` / `<action_ref>.stderr.log`. */
export function logArtifactRef(actionRef: string, stream: LogStreamName): string {
  return `${actionRef}.${stream}.log`;
}

/** `<action_ref> stdout`. */
export function logArtifactName(actionRef: string, stream: LogStreamName): string {
  return `${actionRef} ${stream}`;
}

/** Rust Debug name of `RetentionPolicyType` (`Days`, …) as printed in the description. */
function policyDebugName(policy: RetentionPolicyName): string {
  return policy.charAt(0).toUpperCase() + policy.slice(1);
}

/** `Captured stdout for action '<ref>' (retention: Days 7)`. */
export function logArtifactDescription(actionRef: string, stream: LogStreamName, policy: RetentionPolicyName, limit: number): string {
  return `Captured ${stream} for action '${actionRef}' (retention: ${policyDebugName(policy)} ${limit})`;
}

/** `<ref with . → />/v<version>.txt` (text/plain → txt, spec 04 §3.11). */
export function logFilePath(ref: string, version: number): string {
  return `${ref.replace(/\./g, '/')}/v${version}.txt`;
}

/**
 * `validate_artifact_ref` and the DB CHECK `artifact_ref_path_safe` (spec 06 §2.2, 07 §7.4):
 * returns the problem, or null when the ref is usable.
 */
export function artifactRefProblem(ref: string): string | null {
  if (ref === '') return 'artifact ref is empty';
  if (ref.trim() !== ref) return 'artifact ref has surrounding whitespace';
  if (/[/:\\]/.test(ref)) return "artifact ref contains '/', ':' or '\\'";
  if (ref.startsWith('.') || ref.endsWith('.')) return "artifact ref starts or ends with '.'";
  if (ref.includes('..')) return "artifact ref contains '..'";
  if (ref.includes('\0')) return 'artifact ref contains NUL';
  return null;
}

/** Action override, else the worker default, each independently (spec 06 §2.2). */
export function effectiveRetention(
  action: { logRetentionPolicy: string | null; logRetentionLimit: number | null },
  defaults: { policy: RetentionPolicyName; limit: number },
): { policy: RetentionPolicyName; limit: number } {
  const p = action.logRetentionPolicy;
  const policy = p === 'versions' || p === 'days' || p === 'hours' || p === 'minutes' ? p : defaults.policy;
  const limit = action.logRetentionLimit !== null && action.logRetentionLimit > 0 ? action.logRetentionLimit : defaults.limit;
  return { policy, limit };
}
