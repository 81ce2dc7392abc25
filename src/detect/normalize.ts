// spec 01 §3.7: `normalize_runtime_name` alias table (after trim + lowercase).
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['node', 'node'],
  ['nodejs', 'node'],
  ['node.js', 'node'],
  ['python', 'python'],
  ['python3', 'python'],
  ['shell', 'shell'],
  ['bash', 'shell'],
  ['sh', 'shell'],
  ['native', 'native'],
  ['builtin', 'native'],
  ['standalone', 'native'],
  ['ruby', 'ruby'],
  ['rb', 'ruby'],
  ['go', 'go'],
  ['golang', 'go'],
  ['java', 'java'],
  ['jdk', 'java'],
  ['openjdk', 'java'],
  ['perl', 'perl'],
  ['perl5', 'perl'],
  ['r', 'r'],
  ['rscript', 'r'],
]);

/**
 * Canonical runtime name (spec 01 §3.7): trim, lowercase, then map known aliases
 * (`nodejs` → `node`, `python3` → `python`, `bash` → `shell`, `rscript` → `r`…);
 * anything else is returned trimmed and lowercased.
 * Not used by the bootstrap override filter, which is deliberately alias-unaware (§3.4).
 */
export function normalizeRuntimeName(name: string): string {
  const lowered = name.trim().toLowerCase();
  return ALIASES.get(lowered) ?? lowered;
}

/** spec 01 §3.7: true if any normalised alias equals any normalised filter token. */
export function runtimeAliasesMatchFilter(
  aliases: readonly string[],
  filter: readonly string[],
): boolean {
  const wanted = new Set(filter.map(normalizeRuntimeName));
  return aliases.some((alias) => wanted.has(normalizeRuntimeName(alias)));
}

/**
 * Parse an `ATTUNE_WORKER_RUNTIMES` value the way the worker service and registration do
 * (spec 01 §3.5, §4.4): split on `,`, trim, lowercase, drop empties. No alias mapping, so
 * user tokens are kept as given (lowercased).
 */
export function parseRuntimeList(value: string): string[] {
  return value
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token.length > 0);
}
