import type { VersionParserStyle } from './candidates';

// spec 01 §3.3: `(?:v|go)?(\d+\.\d+(?:\.\d+)?)`, first match, group 1. Upstream uses the Rust
// `regex` crate, whose `\d` is Unicode-aware; `\p{Nd}` with the `u` flag keeps that behaviour.
const SEMVER_LIKE = /(?:v|go)?(\p{Nd}+\.\p{Nd}+(?:\.\p{Nd}+)?)/u;

// spec 01 §3.3: java-style first tries the quoted version (`openjdk version "21.0.1"`,
// Java 8 `java version "1.8.0_392"` keeps its `_392`), then falls back to semver-like.
const JAVA_QUOTED = /version\s+"([^"]+)"/u;

/**
 * Extract a version from the combined stdout+stderr of a version probe.
 * Returns null when nothing matches (the runtime is still detected, spec 01 §3.3).
 */
export function parseVersion(output: string, style: VersionParserStyle): string | null {
  if (style === 'java') {
    const quoted = JAVA_QUOTED.exec(output);
    if (quoted?.[1] !== undefined) return quoted[1];
  }
  const match = SEMVER_LIKE.exec(output);
  return match?.[1] ?? null;
}
