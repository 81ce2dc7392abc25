/**
 * The baseline environment every child process starts from (spec 03 §3.1, spec 01 §3.6):
 * the inherited environment is cleared, then only these names (when present in the agent's
 * own environment) plus the exact names of `worker.passthrough_env` are copied.
 * Captured once at start-up; the agent's DB password, MQ URL and keys therefore never reach
 * actions or probes.
 */
export const BASELINE_ENV_NAMES: readonly string[] = [
  'PATH',
  'HOME',
  'LANG',
  'TZ',
  'TMPDIR',
  'LC_ALL',
  'LC_CTYPE',
  'LC_NUMERIC',
  'LC_TIME',
  'LC_COLLATE',
  'LC_MONETARY',
  'LC_MESSAGES',
  'LC_PAPER',
  'LC_NAME',
  'LC_ADDRESS',
  'LC_TELEPHONE',
  'LC_MEASUREMENT',
  'LC_IDENTIFICATION',
];

export type EnvMap = Record<string, string>;

/** Snapshot of the baseline + passthrough names from `source` (normally the agent's process.env). */
export function captureChildBaseEnv(
  source: Readonly<Record<string, string | undefined>>,
  passthroughEnv: readonly string[],
): EnvMap {
  const out: EnvMap = {};
  for (const name of [...BASELINE_ENV_NAMES, ...passthroughEnv]) {
    const value = source[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

const PASSTHROUGH_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validate `worker.passthrough_env` names exactly as upstream (spec 01 §2.4 rule 1).
 * Returns the problems as messages; empty when valid.
 */
export function validatePassthroughNames(names: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (!PASSTHROUGH_NAME.test(name)) {
      problems.push(`Invalid passthrough environment name '${name}'; use an exact variable name, not a pattern`);
    } else if (name.toUpperCase().startsWith('ATTUNE_')) {
      problems.push(`Passthrough environment name '${name}' is reserved; Attune context must be supplied by the service`);
    } else if (seen.has(name)) {
      problems.push(`Duplicate passthrough environment name '${name}'`);
    }
    seen.add(name);
  }
  return problems;
}
