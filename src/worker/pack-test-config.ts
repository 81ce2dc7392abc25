/**
 * The `testing` section of `pack.yaml` and the pass policy (spec 07 §1.3, upstream
 * `test_executor.rs`). Core module: no I/O. Parse errors name the key, as serde does upstream.
 */

export type OnFailure = 'block' | 'warn' | 'ignore';

export interface PackTestRunner {
  name: string;
  type: string;
  entryPoint: string;
  /** Effective timeout in seconds (default 300). */
  timeoutSec: number;
  resultFormat: 'simple' | 'json';
  /** The configured value, when it was neither `simple` nor `json` (warned, treated as simple). */
  unknownResultFormat: string | null;
}

export interface PackTestConfig {
  enabled: boolean;
  runners: PackTestRunner[];
  minPassRate: number | null;
  onFailure: string | null;
}

export const DEFAULT_RUNNER_TIMEOUT_SEC = 300;
const MAX_RUNNER_TIMEOUT_SEC = 3600;
/** spec 07 §1.3: 60 + sum of timeouts ≤ 21660 ("6 hours"). */
const MAX_COMBINED_TIMEOUT_SEC = 21_660;

export class PackTestConfigError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function need(o: Record<string, unknown>, key: string, where: string): unknown {
  if (o[key] === undefined || o[key] === null) throw new PackTestConfigError(`${where}: missing field \`${key}\``);
  return o[key];
}

function needString(o: Record<string, unknown>, key: string, where: string): string {
  const v = need(o, key, where);
  if (typeof v !== 'string') throw new PackTestConfigError(`${where}.${key}: invalid type, expected a string`);
  return v;
}

function optNumber(o: Record<string, unknown>, key: string, where: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new PackTestConfigError(`${where}.${key}: invalid type, expected a number`);
  return v;
}

/** Parse `testing` (already YAML-decoded). Throws PackTestConfigError on a missing/mistyped key. */
export function parsePackTestConfig(testing: unknown): PackTestConfig {
  const where = 'testing';
  if (!isObject(testing)) throw new PackTestConfigError(`${where}: invalid type, expected a map`);
  const enabled = need(testing, 'enabled', where);
  if (typeof enabled !== 'boolean') throw new PackTestConfigError(`${where}.enabled: invalid type, expected a boolean`);
  const discovery = need(testing, 'discovery', where);
  if (!isObject(discovery)) throw new PackTestConfigError(`${where}.discovery: invalid type, expected a map`);
  needString(discovery, 'method', `${where}.discovery`);
  const runnersRaw = need(testing, 'runners', where);
  if (!isObject(runnersRaw)) throw new PackTestConfigError(`${where}.runners: invalid type, expected a map`);
  const runners: PackTestRunner[] = [];
  for (const [name, raw] of Object.entries(runnersRaw)) {
    const w = `${where}.runners.${name}`;
    if (!isObject(raw)) throw new PackTestConfigError(`${w}: invalid type, expected a map`);
    const timeout = optNumber(raw, 'timeout', w);
    if (timeout !== null && (!Number.isInteger(timeout) || timeout < 0)) {
      throw new PackTestConfigError(`${w}.timeout: invalid value, expected a non-negative integer`);
    }
    const fmt = raw.result_format;
    if (fmt !== undefined && fmt !== null && typeof fmt !== 'string') throw new PackTestConfigError(`${w}.result_format: invalid type, expected a string`);
    const known = fmt === undefined || fmt === null || fmt === 'simple' || fmt === 'json';
    runners.push({
      name,
      type: needString(raw, 'type', w),
      entryPoint: needString(raw, 'entry_point', w),
      timeoutSec: timeout ?? DEFAULT_RUNNER_TIMEOUT_SEC,
      resultFormat: fmt === 'json' ? 'json' : 'simple',
      unknownResultFormat: known ? null : (fmt as string),
    });
  }
  const onFailure = testing.on_failure;
  if (onFailure !== undefined && onFailure !== null && typeof onFailure !== 'string') {
    throw new PackTestConfigError(`${where}.on_failure: invalid type, expected a string`);
  }
  return {
    enabled,
    runners,
    minPassRate: optNumber(testing, 'min_pass_rate', where),
    onFailure: (onFailure as string | undefined | null) ?? null,
  };
}

/** spec 07 §1.3 policy check; returns the failure message or null. */
export function checkPackTestPolicy(cfg: PackTestConfig): string | null {
  if (cfg.minPassRate !== null && (cfg.minPassRate < 0 || cfg.minPassRate > 1)) {
    return 'testing.min_pass_rate must be between 0.0 and 1.0';
  }
  if (cfg.onFailure !== null && !['block', 'warn', 'ignore'].includes(cfg.onFailure)) {
    return 'testing.on_failure must be block, warn, or ignore';
  }
  if (cfg.runners.some((r) => r.timeoutSec < 1 || r.timeoutSec > MAX_RUNNER_TIMEOUT_SEC)) {
    return 'testing runner timeouts must be between 1 and 3600 seconds';
  }
  const combined = 60 + cfg.runners.reduce((s, r) => s + r.timeoutSec, 0);
  if (combined > MAX_COMBINED_TIMEOUT_SEC) return 'combined testing runner timeout must not exceed 6 hours';
  return null;
}

export type TestCaseStatus = 'passed' | 'failed' | 'skipped' | 'error';

export interface TestCaseResult {
  name: string;
  status: TestCaseStatus;
  durationMs: number;
  errorMessage: string | null;
  stdout: string | null;
  stderr: string | null;
}

export interface TestSuiteResult {
  name: string;
  runnerType: string;
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  testCases: TestCaseResult[];
}

/** `PackTestResult`, camelCase as upstream stores it in `test_result` / `result` (spec 07 §1.3). */
export interface PackTestResult {
  packRef: string;
  packVersion: string;
  executionTime: string;
  status: 'passed' | 'failed' | 'skipped' | 'partial';
  totalTests: number;
  passed: number;
  failed: number;
  skipped: number;
  passRate: number;
  durationMs: number;
  testSuites: TestSuiteResult[];
}

/** spec 07 §1.3 `simple` format over stdout + "\n" + stderr, with upstream's clamping. */
export function parseSimpleOutput(
  runner: Pick<PackTestRunner, 'name' | 'type'>,
  out: { stdout: string; stderr: string; exitCode: number; durationMs: number },
): TestSuiteResult {
  const text = `${out.stdout}\n${out.stderr}`;
  const count = (label: string): number | null => {
    const line = text.split('\n').find((l) => l.includes(label));
    if (line === undefined) return null;
    const token = line.slice(line.indexOf(label) + label.length).trim().split(/\s+/)[0] ?? '';
    return /^[+-]?\d+$/.test(token) ? Number.parseInt(token, 10) : null;
  };
  let total = count('Total Tests:');
  let passed = count('Passed:');
  let failed = count('Failed:') ?? 0;
  let skipped = count('Skipped:') ?? 0;
  if (total === null || passed === null) {
    total = 1;
    passed = out.exitCode === 0 ? 1 : 0;
    failed = out.exitCode === 0 ? 0 : 1;
    skipped = 0;
  }
  total = Math.max(total, 1);
  passed = Math.max(passed, 0);
  failed = Math.max(failed, 0);
  skipped = Math.max(skipped, 0);
  if (out.exitCode !== 0 && failed === 0) {
    failed = 1;
    total = Math.max(total, failed + skipped);
    passed = Math.min(passed, total - failed - skipped);
  }
  return {
    name: runner.name,
    runnerType: runner.type,
    total,
    passed,
    failed,
    skipped,
    durationMs: out.durationMs,
    testCases: [
      {
        name: `${runner.name}_suite`,
        status: out.exitCode === 0 ? 'passed' : 'failed',
        durationMs: out.durationMs,
        errorMessage: out.exitCode === 0 ? null : `Exit code: ${out.exitCode}`,
        stdout: out.stdout === '' ? null : out.stdout,
        stderr: out.stderr === '' ? null : out.stderr,
      },
    ],
  };
}

/** spec 07 §1.3: a suite that could not run. */
export function suiteError(runner: Pick<PackTestRunner, 'name' | 'type'>, message: string): TestSuiteResult {
  return {
    name: runner.name,
    runnerType: runner.type,
    total: 1,
    passed: 0,
    failed: 1,
    skipped: 0,
    durationMs: 0,
    testCases: [{ name: `${runner.name}_execution`, status: 'error', durationMs: 0, errorMessage: message, stdout: null, stderr: null }],
  };
}

export function aggregatePackTestResult(input: {
  packRef: string;
  packVersion: string;
  executionTime: Date;
  durationMs: number;
  suites: TestSuiteResult[];
}): PackTestResult {
  const sum = (k: 'total' | 'passed' | 'failed' | 'skipped'): number => input.suites.reduce((s, x) => s + x[k], 0);
  const total = sum('total');
  const passed = sum('passed');
  const failed = sum('failed');
  const skipped = sum('skipped');
  const status = failed > 0 ? 'failed' : passed === total ? 'passed' : skipped === total ? 'skipped' : 'partial';
  return {
    packRef: input.packRef,
    packVersion: input.packVersion,
    executionTime: input.executionTime.toISOString(),
    status,
    totalTests: total,
    passed,
    failed,
    skipped,
    passRate: total === 0 ? 0 : passed / total,
    durationMs: input.durationMs,
    testSuites: input.suites,
  };
}

/** spec 07 §1.3 "Accepted": enough passed and no error case, or on_failure warn/ignore. */
export function isPackTestAccepted(result: PackTestResult, cfg: PackTestConfig): boolean {
  if (cfg.onFailure === 'warn' || cfg.onFailure === 'ignore') return true;
  const noErrors = result.testSuites.every((s) => s.testCases.every((c) => c.status !== 'error'));
  return result.totalTests > 0 && noErrors && result.passRate >= (cfg.minPassRate ?? 1.0);
}
