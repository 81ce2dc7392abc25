/** Which regex family extracts the version from a probe's output (spec 01 §3.3). */
export type VersionParserStyle = 'semver' | 'java';

export interface RuntimeCandidate {
  /** Canonical agent name; note `node` (not `nodejs`) and lowercase `r` (spec 01 §3.1). */
  readonly name: string;
  /** Binaries tried in order; the first one found decides the runtime. */
  readonly binaries: readonly string[];
  readonly versionArgs: readonly string[];
  readonly parser: VersionParserStyle;
  /** Read the version from the installation's `release` file when there is one (java-release.ts). */
  readonly versionFromRelease?: boolean;
}

/**
 * spec 01 §3.1: the fixed candidate list. Its order is also the order of
 * `ATTUNE_WORKER_RUNTIMES`, `detected_interpreters` and the `--detect-only` report.
 */
export const RUNTIME_CANDIDATES: readonly RuntimeCandidate[] = [
  { name: 'shell', binaries: ['bash', 'sh'], versionArgs: ['--version'], parser: 'semver' },
  { name: 'python', binaries: ['python3', 'python'], versionArgs: ['--version'], parser: 'semver' },
  { name: 'node', binaries: ['node', 'nodejs'], versionArgs: ['--version'], parser: 'semver' },
  { name: 'ruby', binaries: ['ruby'], versionArgs: ['--version'], parser: 'semver' },
  // `go --version` is not a thing; upstream runs `go version`.
  { name: 'go', binaries: ['go'], versionArgs: ['version'], parser: 'semver' },
  // Java prints `-version` to stderr; the java parser prefers the quoted version string.
  { name: 'java', binaries: ['java'], versionArgs: ['-version'], parser: 'java', versionFromRelease: true },
  { name: 'r', binaries: ['Rscript'], versionArgs: ['--version'], parser: 'semver' },
  { name: 'perl', binaries: ['perl'], versionArgs: ['--version'], parser: 'semver' },
];

/**
 * spec 01 §3.2 step 1: only these binaries have a fixed-path fast path (`/bin/<name>`), used
 * without running anything when the file exists.
 */
export const FAST_PATH_BINARIES: ReadonlySet<string> = new Set(['bash', 'sh']);
