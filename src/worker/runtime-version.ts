/**
 * Runtime version selection (spec 03 §1.3): of the registered versions of an action's runtime,
 * keep those this worker advertises, then pick by the action's constraint, else the default,
 * else the highest. Versions are parsed leniently (`v` prefix stripped, `3.12` → 3.12.0).
 */
import { normalizeRuntimeName } from '../detect';

export interface VersionCandidate {
  version: string;
  executionConfig: unknown;
  isDefault: boolean;
  available: boolean;
}

type Triple = [number, number, number];

export function parseLooseVersion(v: string): { triple: Triple; parts: number } | null {
  const m = /^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v);
  if (!m) return null;
  const parts = m[3] !== undefined ? 3 : m[2] !== undefined ? 2 : 1;
  return { triple: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)], parts };
}

function cmp(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Does `version` satisfy `constraint` (comma = AND; `= >= <= > < ~ ^`; bare version = tilde)? */
export function satisfiesConstraint(version: string, constraint: string): boolean {
  const v = parseLooseVersion(version);
  if (!v) return false;
  const clauses = constraint
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (clauses.length === 0) return false;
  return clauses.every((clause) => {
    const m = /^(>=|<=|>|<|=|~|\^)?\s*(.+)$/.exec(clause);
    if (!m) return false;
    const op = m[1] ?? '~';
    const target = parseLooseVersion(m[2] as string);
    if (!target) return false;
    const c = cmp(v.triple, target.triple);
    switch (op) {
      case '=':
        return c === 0;
      case '>=':
        return c >= 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      case '<':
        return c < 0;
      case '~': {
        // ~1 → >=1.0.0 <2.0.0; ~1.2 / ~1.2.3 → >=1.2.x <1.3.0
        const upper: Triple = target.parts === 1 ? [target.triple[0] + 1, 0, 0] : [target.triple[0], target.triple[1] + 1, 0];
        return c >= 0 && cmp(v.triple, upper) < 0;
      }
      case '^': {
        const [maj, min] = target.triple;
        const upper: Triple = maj > 0 ? [maj + 1, 0, 0] : min > 0 ? [0, min + 1, 0] : [0, 0, target.triple[2] + 1];
        return c >= 0 && cmp(v.triple, upper) < 0;
      }
      default:
        return false;
    }
  });
}

/**
 * Versions of the runtime this worker advertises: `runtime_versions[<alias>]` for the runtime's
 * normalised name and aliases (spec 03 §1.3, capabilities of spec 01 §4.3).
 */
export function advertisedVersionsFor(
  runtime: { name: string; aliases: readonly string[] },
  advertised: Readonly<Record<string, readonly string[]>>,
): string[] {
  const names = new Set([runtime.name, ...runtime.aliases].map((n) => normalizeRuntimeName(n)));
  const out: string[] = [];
  for (const [name, versions] of Object.entries(advertised)) {
    if (names.has(normalizeRuntimeName(name))) out.push(...versions);
  }
  return out;
}

/** The version to use, or null → the parent runtime's config. */
export function selectRuntimeVersion(
  candidates: readonly VersionCandidate[],
  advertised: readonly string[],
  constraint: string | null,
): VersionCandidate | null {
  const supported = candidates.filter(
    (c) => c.available && advertised.some((a) => a === c.version || satisfiesConstraint(a, c.version)),
  );
  if (supported.length === 0) return null;
  const byHighest = [...supported].sort((a, b) => {
    const pa = parseLooseVersion(a.version);
    const pb = parseLooseVersion(b.version);
    return pa && pb ? cmp(pb.triple, pa.triple) : 0;
  });
  if (constraint && constraint.trim() !== '') {
    return byHighest.find((c) => satisfiesConstraint(c.version, constraint)) ?? null;
  }
  return supported.find((c) => c.isDefault) ?? byHighest[0] ?? null;
}
