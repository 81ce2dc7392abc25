/**
 * Exit code + output → terminal status and the `execution.result` JSON (spec 03 §4.4, §5),
 * with the keys, their presence rules and order of upstream's `handle_execution_*`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { redactActionResult } from './redact';
import type { ProcessRunResult } from './run';
import type { ExecutionOutcome, ExecutionStatus, LogFilePaths } from './types';

export interface RanOutcomeInput {
  run: ProcessRunResult;
  /** The cancel signal fired (at any time up to now). */
  signalAborted: boolean;
  stderrLogPath: string | null | undefined;
  outSchema: unknown;
  secretParameterPaths: readonly string[];
}

/** spec 03 §5 decision table, first match wins. */
export function decideStatus(run: ProcessRunResult, signalAborted: boolean): ExecutionStatus {
  // Upstream quirk, reproduced on purpose (spec 03 §5, §11.11): any error text containing
  // "cancelled" — e.g. an action's last stderr line "request cancelled" — is recorded as
  // `cancelled` even though nobody cancelled it.
  if (signalAborted || (run.error !== null && run.error.includes('cancelled'))) return 'cancelled';
  if (run.timedOut) return 'timeout';
  if (run.exitCode === 0 && run.error === null) return 'completed';
  return 'failed';
}

function addOutputKeys(result: Record<string, unknown>, run: ProcessRunResult, stderrLogPath: string | null | undefined): void {
  if (run.stdout !== '') result.stdout = run.stdout;
  // stderr text itself never goes into the result, only the log path (spec 03 §4.4).
  if (run.stderr.trim() !== '' && stderrLogPath) result.stderr_log = path.resolve(stderrLogPath);
}

function addTruncationKeys(result: Record<string, unknown>, run: ProcessRunResult): void {
  if (run.stdoutTruncated) {
    result.stdout_truncated = true;
    result.stdout_bytes_truncated = run.stdoutBytesTruncated;
  }
  if (run.stderrTruncated) {
    result.stderr_truncated = true;
    result.stderr_bytes_truncated = run.stderrBytesTruncated;
  }
}

function addDataKeys(result: Record<string, unknown>, run: ProcessRunResult): void {
  if (run.parsed === null) return;
  result.data = run.parsed.value;
  const v = run.parsed.value;
  // `copy_reserved_queue_ack`
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, 'queue_ack')) {
    result.queue_ack = (v as Record<string, unknown>).queue_ack;
  }
}

/** Outcome of a run that produced a result. */
export function buildRanOutcome(input: RanOutcomeInput): ExecutionOutcome {
  const { run } = input;
  const status = decideStatus(run, input.signalAborted);
  let result: Record<string, unknown>;
  switch (status) {
    case 'completed':
      result = { exit_code: run.exitCode, duration_ms: run.durationMs, succeeded: true };
      addOutputKeys(result, run, input.stderrLogPath);
      addDataKeys(result, run); // truncation keys are never written on success (spec 03 §4.4)
      break;
    case 'failed':
      result = { succeeded: false, exit_code: run.exitCode, duration_ms: run.durationMs };
      if (run.error !== null) result.error = run.error;
      addOutputKeys(result, run, input.stderrLogPath);
      addTruncationKeys(result, run);
      addDataKeys(result, run);
      break;
    case 'cancelled':
      result = {
        succeeded: false,
        cancelled: true,
        exit_code: run.exitCode,
        duration_ms: run.durationMs,
        error: run.error ?? 'Execution cancelled by user',
      };
      addOutputKeys(result, run, input.stderrLogPath);
      addTruncationKeys(result, run);
      addDataKeys(result, run);
      break;
    case 'timeout':
      result = {
        succeeded: false,
        timed_out: true,
        exit_code: run.exitCode,
        duration_ms: run.durationMs,
        error: run.error ?? 'Execution timed out',
      };
      addOutputKeys(result, run, input.stderrLogPath);
      addTruncationKeys(result, run);
      addDataKeys(result, run);
      break;
  }
  if (run.logsIncomplete) result.logs_incomplete = true;
  const redactedValues = redactActionResult(result, input.outSchema, input.secretParameterPaths);
  return {
    status,
    result,
    redactedValues,
    phase: 'ran',
    exitCode: run.exitCode,
    durationMs: run.durationMs,
    wasCancelled: input.signalAborted,
  };
}

export interface FailureOutcomeOptions {
  /** Where it failed: context preparation or a runtime error. */
  phase: 'prepare' | 'runtime';
  logFiles?: LogFilePaths | null;
  outSchema?: unknown;
  secretParameterPaths?: readonly string[];
  wasCancelled?: boolean;
}

function readIfExists(p: string | null | undefined): string | null {
  if (!p) return null;
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

/**
 * "failed (no run result)" (spec 03 §4.4): `{succeeded:false, error}` plus the log files'
 * content when they exist. `error` is the full text (`Failed to prepare execution context: …`
 * or `Action execution failed: Internal error: …`). Exported for adapters whose own
 * preparation (e.g. secret restore) fails before `runExecution` is called.
 */
export function buildFailureOutcome(error: string, opts: FailureOutcomeOptions): ExecutionOutcome {
  const result: Record<string, unknown> = { succeeded: false, error };
  const stderrPath = opts.logFiles?.stderrPath;
  const stderrText = readIfExists(stderrPath);
  if (stderrPath && stderrText !== null && stderrText.trim() !== '') result.stderr_log = path.resolve(stderrPath);
  const stdoutText = readIfExists(opts.logFiles?.stdoutPath);
  if (stdoutText !== null && stdoutText !== '') result.stdout = stdoutText;
  const redactedValues = redactActionResult(result, opts.outSchema, opts.secretParameterPaths ?? []);
  return {
    status: 'failed',
    result,
    redactedValues,
    phase: opts.phase,
    exitCode: null,
    durationMs: null,
    wasCancelled: opts.wasCancelled ?? false,
  };
}
