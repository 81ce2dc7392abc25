import { describe, expect, it } from 'vitest';
import {
  aggregatePackTestResult,
  checkPackTestPolicy,
  isPackTestAccepted,
  parsePackTestConfig,
  parseSimpleOutput,
  suiteError,
  PackTestConfigError,
} from '../../../src/worker/pack-test-config';

const base = { enabled: true, discovery: { method: 'directory' }, runners: { shell: { type: 'script', entry_point: 'tests/run.sh' } } };
const runner = { name: 'shell', type: 'script' };

describe('parsePackTestConfig (spec 07 §1.3)', () => {
  it('defaults a runner timeout to 300 s and the result format to simple', () => {
    const cfg = parsePackTestConfig(base);
    expect(cfg.runners).toEqual([{ name: 'shell', type: 'script', entryPoint: 'tests/run.sh', timeoutSec: 300, resultFormat: 'simple', unknownResultFormat: null }]);
    expect(cfg.minPassRate).toBeNull();
    expect(cfg.onFailure).toBeNull();
  });

  it('names the missing key of a required field', () => {
    expect(() => parsePackTestConfig({ enabled: true, runners: {} })).toThrow(/testing: missing field `discovery`/);
    expect(() => parsePackTestConfig({ ...base, runners: { x: { type: 'script' } } })).toThrow(PackTestConfigError);
    expect(() => parsePackTestConfig({ ...base, runners: { x: { type: 'script' } } })).toThrow(/testing\.runners\.x: missing field `entry_point`/);
    expect(() => parsePackTestConfig({ ...base, enabled: 'yes' })).toThrow(/enabled: invalid type/);
  });

  it('keeps an unknown result_format for a warning and runs it as simple', () => {
    const cfg = parsePackTestConfig({ ...base, runners: { s: { type: 'script', entry_point: 'a.sh', result_format: 'junit' } } });
    expect(cfg.runners[0]).toMatchObject({ resultFormat: 'simple', unknownResultFormat: 'junit' });
  });
});

describe('checkPackTestPolicy', () => {
  it('accepts the defaults', () => expect(checkPackTestPolicy(parsePackTestConfig(base))).toBeNull());
  it('rejects min_pass_rate outside 0..1', () =>
    expect(checkPackTestPolicy(parsePackTestConfig({ ...base, min_pass_rate: 1.1 }))).toBe('testing.min_pass_rate must be between 0.0 and 1.0'));
  it('rejects an unknown on_failure', () =>
    expect(checkPackTestPolicy(parsePackTestConfig({ ...base, on_failure: 'retry' }))).toBe('testing.on_failure must be block, warn, or ignore'));
  it('rejects a runner timeout of 3601 s and of 0 s', () => {
    for (const timeout of [3601, 0]) {
      const cfg = parsePackTestConfig({ ...base, runners: { s: { type: 'script', entry_point: 'a.sh', timeout } } });
      expect(checkPackTestPolicy(cfg)).toBe('testing runner timeouts must be between 1 and 3600 seconds');
    }
  });
  it('rejects a combined timeout over 6 hours (60 + sum > 21660)', () => {
    const runners = Object.fromEntries([...Array(7).keys()].map((i) => [`r${i}`, { type: 'script', entry_point: 'a.sh', timeout: 3600 }]));
    expect(checkPackTestPolicy(parsePackTestConfig({ ...base, runners }))).toBe('combined testing runner timeout must not exceed 6 hours');
    const six = Object.fromEntries([...Array(6).keys()].map((i) => [`r${i}`, { type: 'script', entry_point: 'a.sh', timeout: 3600 }]));
    expect(checkPackTestPolicy(parsePackTestConfig({ ...base, runners: six }))).toBeNull();
  });
});

describe('parseSimpleOutput', () => {
  it('reads the counters from stdout', () => {
    const s = parseSimpleOutput(runner, { stdout: 'Total Tests: 3\nPassed: 3\nFailed: 0\n', stderr: '', exitCode: 0, durationMs: 12 });
    expect(s).toMatchObject({ total: 3, passed: 3, failed: 0, skipped: 0, durationMs: 12 });
    expect(s.testCases).toEqual([{ name: 'shell_suite', status: 'passed', durationMs: 12, errorMessage: null, stdout: 'Total Tests: 3\nPassed: 3\nFailed: 0\n', stderr: null }]);
  });

  it('clamps a non-zero exit with Failed: 0 to one failure', () => {
    const s = parseSimpleOutput(runner, { stdout: 'Total Tests: 3\nPassed: 3\nFailed: 0\n', stderr: 'boom', exitCode: 1, durationMs: 1 });
    expect(s).toMatchObject({ total: 3, passed: 2, failed: 1, skipped: 0 });
    expect(s.testCases[0]).toMatchObject({ status: 'failed', errorMessage: 'Exit code: 1', stderr: 'boom' });
  });

  it('falls back to one test by exit code without counters, reading stderr too', () => {
    expect(parseSimpleOutput(runner, { stdout: 'ok', stderr: '', exitCode: 0, durationMs: 0 })).toMatchObject({ total: 1, passed: 1, failed: 0 });
    expect(parseSimpleOutput(runner, { stdout: '', stderr: 'x', exitCode: 2, durationMs: 0 })).toMatchObject({ total: 1, passed: 0, failed: 1 });
    expect(parseSimpleOutput(runner, { stdout: '', stderr: 'Total Tests: 4\nPassed: 4', exitCode: 0, durationMs: 0 })).toMatchObject({ total: 4, passed: 4 });
  });
});

describe('aggregate and acceptance', () => {
  const at = new Date('2026-12-01T10:00:00.000Z');
  it('sums suites, computes pass_rate and status in camelCase', () => {
    const r = aggregatePackTestResult({
      packRef: 'p',
      packVersion: '1.0.0',
      executionTime: at,
      durationMs: 5,
      suites: [parseSimpleOutput(runner, { stdout: 'Total Tests: 2\nPassed: 1\nFailed: 1', stderr: '', exitCode: 1, durationMs: 1 })],
    });
    expect(r).toMatchObject({ packRef: 'p', packVersion: '1.0.0', executionTime: '2026-12-01T10:00:00.000Z', status: 'failed', totalTests: 2, passed: 1, failed: 1, passRate: 0.5 });
    expect(isPackTestAccepted(r, parsePackTestConfig(base))).toBe(false);
    expect(isPackTestAccepted(r, parsePackTestConfig({ ...base, min_pass_rate: 0.5 }))).toBe(true);
    expect(isPackTestAccepted(r, parsePackTestConfig({ ...base, on_failure: 'warn' }))).toBe(true);
  });

  it('never accepts a suite error under block, whatever the pass rate', () => {
    const r = aggregatePackTestResult({ packRef: 'p', packVersion: '1', executionTime: at, durationMs: 0, suites: [suiteError(runner, 'Unsupported runner type: x')] });
    expect(r.testSuites[0]?.testCases[0]).toMatchObject({ name: 'shell_execution', status: 'error', errorMessage: 'Unsupported runner type: x' });
    expect(isPackTestAccepted(r, parsePackTestConfig({ ...base, min_pass_rate: 0 }))).toBe(false);
    expect(isPackTestAccepted(r, parsePackTestConfig({ ...base, on_failure: 'ignore' }))).toBe(true);
  });
});
