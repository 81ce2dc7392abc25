import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFailureOutcome, buildRanOutcome, decideStatus } from '../../../src/execution/result';
import type { ProcessRunResult } from '../../../src/execution/run';
import { tempDir } from './helpers';

function runResult(over: Partial<ProcessRunResult>): ProcessRunResult {
  return {
    exitCode: 0,
    stdout: '',
    stderr: '',
    parsed: null,
    durationMs: 12,
    error: null,
    stdoutTruncated: false,
    stderrTruncated: false,
    stdoutBytesTruncated: 0,
    stderrBytesTruncated: 0,
    timedOut: false,
    logsIncomplete: false,
    ...over,
  };
}

describe('status decision (spec 03 §5)', () => {
  it.each([
    ['signal fired beats everything', { exitCode: 0 }, true, 'cancelled'],
    ["'cancelled' in the error text", { exitCode: 1, error: 'job cancelled' }, false, 'cancelled'],
    ['timed out', { exitCode: -1, timedOut: true, error: 'Execution timed out after 1 seconds' }, false, 'timeout'],
    ['exit 0 without error', { exitCode: 0 }, false, 'completed'],
    ['exit 0 with a stdin error', { exitCode: 0, error: 'Failed to write parameters to stdin: x' }, false, 'failed'],
    ['killed by a foreign signal', { exitCode: -1, error: 'Command exited with code -1' }, false, 'failed'],
  ] as const)('%s', (_n, over, aborted, status) => {
    expect(decideStatus(runResult(over), aborted)).toBe(status);
  });
});

describe('result JSON builders (spec 03 §4.4)', () => {
  it('writes timeout keys in upstream order, with truncation and logs_incomplete', () => {
    const o = buildRanOutcome({
      run: runResult({ exitCode: -1, timedOut: true, error: 'Execution timed out after 1 seconds', stdout: 'x', stderr: 'e', stderrTruncated: true, stderrBytesTruncated: 5, logsIncomplete: true }),
      signalAborted: false,
      stderrLogPath: '/logs/stderr/v1.txt',
      outSchema: null,
      secretParameterPaths: [],
    });
    expect(Object.keys(o.result)).toEqual([
      'succeeded', 'timed_out', 'exit_code', 'duration_ms', 'error', 'stdout', 'stderr_log', 'stderr_truncated', 'stderr_bytes_truncated', 'logs_incomplete',
    ]);
  });

  it('defaults the cancelled error text', () => {
    const o = buildRanOutcome({ run: runResult({ exitCode: 0 }), signalAborted: true, stderrLogPath: null, outSchema: null, secretParameterPaths: [] });
    expect(o.result).toEqual({ succeeded: false, cancelled: true, exit_code: 0, duration_ms: 12, error: 'Execution cancelled by user' });
    expect(o.wasCancelled).toBe(true);
  });

  it('omits stderr_log when stderr is only whitespace', () => {
    const o = buildRanOutcome({ run: runResult({ stderr: ' \n' }), signalAborted: false, stderrLogPath: '/l', outSchema: null, secretParameterPaths: [] });
    expect(o.result).not.toHaveProperty('stderr_log');
  });

  it('builds a failure without a run from the error and existing log files', () => {
    const dir = tempDir();
    const stdoutPath = path.join(dir, 'out.txt');
    const stderrPath = path.join(dir, 'err.txt');
    fs.writeFileSync(stdoutPath, 'partial');
    fs.writeFileSync(stderrPath, 'trace\n');
    const o = buildFailureOutcome('Failed to prepare execution context: Internal error: No encryption key configured', {
      phase: 'prepare',
      logFiles: { stdoutPath, stderrPath },
    });
    expect(o).toMatchObject({ status: 'failed', phase: 'prepare', exitCode: null });
    expect(o.result).toEqual({
      succeeded: false,
      error: 'Failed to prepare execution context: Internal error: No encryption key configured',
      stderr_log: stderrPath,
      stdout: 'partial',
    });
    expect(buildFailureOutcome('x', { phase: 'runtime', logFiles: { stdoutPath: path.join(dir, 'none') } }).result).toEqual({ succeeded: false, error: 'x' });
  });

  it('redacts the failure error when the execution had secret parameters', () => {
    const o = buildFailureOutcome('Action execution failed: Internal error: boom', { phase: 'runtime', secretParameterPaths: ['/p'] });
    expect(o.result.error).toEqual({ $attune_secret: true, redacted: true });
    expect(o.redactedValues).toEqual([{ jsonPath: '/error', value: 'Action execution failed: Internal error: boom', sourceKind: 'parameter_schema', sourceRef: '/error' }]);
  });
});
