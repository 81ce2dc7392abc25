import { AGENT_VERSION } from '../version';
import { WORKER_RUNTIMES_ENV, formatRuntimesEnvValue, type DetectedRuntime } from './detected-runtime';

// spec 01 §1.4: byte-exact upstream text (`print_detect_only_report`,
// `print_detection_report_for_env`). "—" is U+2014, "✓" is U+2713.
const OVERRIDE_NOTE =
  `NOTE: ${WORKER_RUNTIMES_ENV} is set \u2014 auto-detection was skipped during normal startup.\n` +
  '      Showing what auto-detection would find on this system:\n' +
  '\n';

const EMPTY_BLOCK =
  'No runtimes detected!\n' +
  '\n' +
  'The agent could not find any supported interpreter binaries.\n' +
  'Ensure at least one of the following is installed and on PATH:\n' +
  '  - bash / sh       (shell scripts)\n' +
  '  - python3 / python (Python scripts)\n' +
  '  - node / nodejs    (Node.js scripts)\n' +
  '  - ruby             (Ruby scripts)\n' +
  '  - go               (Go programs)\n' +
  '  - java             (Java programs)\n' +
  '  - Rscript          (R scripts)\n' +
  '  - perl             (Perl scripts)\n';

/**
 * The `--detect-only` stdout text (spec 01 §1.4). With `overrideSet` the two NOTE lines and a
 * blank line come first; `list` is then the fresh, unfiltered detection.
 */
export function formatDetectionReport(list: readonly DetectedRuntime[], opts: { overrideSet: boolean }): string {
  let out = opts.overrideSet ? OVERRIDE_NOTE : '';
  out += '=== Attune Agent Runtime Detection Report ===\n\n';
  if (list.length === 0) {
    out += EMPTY_BLOCK;
  } else {
    out += `Detected ${list.length} runtime(s):\n\n`;
    for (const rt of list) {
      // Rust `{:<10}`: pad to 10, never truncate.
      out += `  \u2713 ${rt.name.padEnd(10)} ${rt.path} (${rt.version ?? 'unknown version'})\n`;
    }
  }
  out += `\n${WORKER_RUNTIMES_ENV}=${formatRuntimesEnvValue(list)}\n\n`;
  return out;
}

export interface DetectionJsonMeta {
  durationMs: number;
  overrideSet: boolean;
  /** The effective `ATTUNE_WORKER_RUNTIMES` value, or null when unset. */
  workerRuntimes: string | null;
}

/** Object behind `detect --json` (our addition; no upstream equivalent). Key order is stable. */
export function buildDetectionJson(list: readonly DetectedRuntime[], meta: DetectionJsonMeta) {
  return {
    runtimes: list.map((rt) => ({ name: rt.name, path: rt.path, version: rt.version })),
    worker_runtimes: meta.workerRuntimes,
    override: meta.overrideSet,
    duration_ms: Math.round(meta.durationMs),
    agent_version: AGENT_VERSION,
  };
}

/** `detect --json` output: pretty-printed JSON with a trailing newline. */
export function formatDetectionJson(list: readonly DetectedRuntime[], meta: DetectionJsonMeta): string {
  return `${JSON.stringify(buildDetectionJson(list, meta), null, 2)}\n`;
}

/** `detect` output for humans: aligned RUNTIME / PATH / VERSION columns. */
export function formatDetectionTable(list: readonly DetectedRuntime[]): string {
  if (list.length === 0) return 'No runtimes detected.\n';
  const rows = [['RUNTIME', 'PATH', 'VERSION'], ...list.map((rt) => [rt.name, rt.path, rt.version ?? '-'])];
  const nameWidth = Math.max(...rows.map((r) => r[0]!.length));
  const pathWidth = Math.max(...rows.map((r) => r[1]!.length));
  return rows.map(([name, path, version]) => `${name!.padEnd(nameWidth)}  ${path!.padEnd(pathWidth)}  ${version}\n`).join('');
}
