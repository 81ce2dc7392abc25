/**
 * `runExecution`: one action, from request to terminal outcome (spec 03 §1.2 steps 4–7).
 * Failures of the action — including "failed without a run" — come back as an outcome; only
 * agent faults (bugs, unexpected exceptions) are thrown.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PrepareFailure, prepareFailureText, RuntimeFailure, runtimeFailureText } from './failures';
import { openLogFileSink, type OutputSink, type OutputSinks } from './log-sink';
import { cleanupTempFiles, planExecution, type PlannedProcess } from './plan';
import type { ExecutionDeps } from './ports';
import { buildFailureOutcome, buildRanOutcome } from './result';
import { runProcess, type ProcessRunResult } from './run';
import { createBuiltinRuntimeRegistry } from './runtimes';
import { childWith } from '../util/log-bindings';
import type { ExecutionOutcome, ExecutionRequest } from './types';

export const DEFAULT_KILL_GRACE_MS = 10_000;
export const DEFAULT_LOG_FINALIZATION_TIMEOUT_MS = 1_000;

let cachedTmpDir: string | undefined;
/**
 * `os.tmpdir()` once per process: each call reads TMPDIR, TMP and TEMP through Node's secure
 * getenv (4 id syscalls and a capget each, strace: 15 syscalls per execution), and the agent
 * never changes its own environment.
 */
function defaultTmpDir(): string {
  cachedTmpDir ??= os.tmpdir();
  return cachedTmpDir;
}

export async function runExecution(request: ExecutionRequest, deps: ExecutionDeps): Promise<ExecutionOutcome> {
  const log = childWith(deps.log, { executionId: request.executionId, actionRef: request.actionRef });
  const failure = (e: PrepareFailure | RuntimeFailure): ExecutionOutcome => {
    const isPrepare = e instanceof PrepareFailure;
    const error = isPrepare ? prepareFailureText(e.message) : runtimeFailureText(e.message);
    // The message is ours or upstream's fixed text; it never contains parameter values.
    log.error({ phase: isPrepare ? 'prepare' : 'runtime', error }, 'execution failed before a result');
    return buildFailureOutcome(error, {
      phase: isPrepare ? 'prepare' : 'runtime',
      logFiles: request.logFiles,
      outSchema: request.outSchema,
      secretParameterPaths: request.secretParameterPaths,
    });
  };

  let planned: PlannedProcess;
  try {
    planned = planExecution(request, {
      registry: deps.registry ?? createBuiltinRuntimeRegistry(),
      tmpDir: deps.tmpDir ?? defaultTmpDir(),
      log,
    });
  } catch (e) {
    if (e instanceof PrepareFailure || e instanceof RuntimeFailure) return failure(e);
    throw e;
  }

  let run: ProcessRunResult;
  const sinks: { stdout: OutputSink | null; stderr: OutputSink | null } = { stdout: null, stderr: null };
  /** `sinks` once the given ones exist (they may still be being set up: see ports.ts). */
  let ready: Promise<OutputSinks> = Promise.resolve(sinks);
  try {
    if (deps.sinks && !(deps.sinks instanceof Promise)) {
      sinks.stdout = deps.sinks.stdout ?? null;
      sinks.stderr = deps.sinks.stderr ?? null;
    } else if (deps.sinks) {
      ready = deps.sinks.then(
        (given) => {
          sinks.stdout = given?.stdout ?? null;
          sinks.stderr = given?.stderr ?? null;
          return sinks;
        },
        () => sinks, // runProcess reports it (SinkRelay.setupFailed)
      );
    } else {
      if (request.logFiles?.stdoutPath) sinks.stdout = openLogFileSink(request.logFiles.stdoutPath);
      if (request.logFiles?.stderrPath) sinks.stderr = openLogFileSink(request.logFiles.stderrPath);
    }
    // debug, like the line after the run when nothing went wrong: the caller logs one line at
    // the start and one at the end of each execution at info (a pino line with redaction is
    // ~35 µs of the agent's CPU, four per execution were ~4 % of it at c=16; issue 18).
    log.debug(
      { runtime: planned.runtime.name, interpreter: path.basename(planned.spec.command), argc: planned.spec.args.length, timeoutSec: request.timeoutSec },
      'starting action process',
    );
    run = await runProcess(planned.spec, {
      log,
      spawner: deps.spawner,
      oom: deps.oom ?? null,
      signal: deps.signal,
      killGraceMs: deps.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
      logFinalizationTimeoutMs: deps.logFinalizationTimeoutMs ?? DEFAULT_LOG_FINALIZATION_TIMEOUT_MS,
      onSpawn: deps.onSpawn,
      onOutput: deps.onOutput,
      sinks: deps.sinks instanceof Promise ? deps.sinks : sinks,
    });
  } catch (e) {
    // A failed spawn: the sinks (and `request.logFiles`) may still be in flight.
    await ready;
    await Promise.all([sinks.stdout?.abandon(), sinks.stderr?.abandon()]);
    if (e instanceof PrepareFailure || e instanceof RuntimeFailure) return failure(e);
    throw e;
  } finally {
    // Parameter file and inline script go on every path (spec 03 §9).
    cleanupTempFiles(planned.tempFiles);
  }

  // A log copy that could not be written costs `logs_incomplete`, not the action's result.
  for (const [stream, sink] of [['stdout', sinks.stdout], ['stderr', sinks.stderr]] as const) {
    if (sink?.failed) log.warn({ stream, file: request.logFiles?.[stream === 'stdout' ? 'stdoutPath' : 'stderrPath'] }, 'could not write the output log file');
  }
  const outcome = buildRanOutcome({
    run,
    signalAborted: deps.signal?.aborted ?? false,
    stderrLogPath: sinks.stderr && !sinks.stderr.failed ? request.logFiles?.stderrPath : null,
    outSchema: request.outSchema,
    secretParameterPaths: request.secretParameterPaths,
  });
  if (run.parsed !== null && request.resultFilePath) writeResultFile(request.resultFilePath, outcome.result.data, log);
  const notable = run.timedOut || run.logsIncomplete || run.stdoutTruncated || run.stderrTruncated;
  log[notable ? 'info' : 'debug'](
    {
      status: outcome.status,
      exitCode: run.exitCode,
      durationMs: run.durationMs,
      timedOut: run.timedOut,
      logsIncomplete: run.logsIncomplete,
      stdoutTruncated: run.stdoutTruncated,
      stderrTruncated: run.stderrTruncated,
    },
    'action process finished',
  );
  return outcome;
}

/**
 * spec 03 §4.6 `result.json`, pretty-printed. Deliberate deviation: the *redacted* data is
 * written (upstream writes it before redaction, leaking secrets to disk — spec 03 §11.9).
 * Symlinked or hard-linked targets are refused; failures are only logged.
 */
function writeResultFile(file: string, data: unknown, log: ExecutionDeps['log']): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    try {
      const st = fs.lstatSync(file);
      if (st.isSymbolicLink() || (st.isFile() && st.nlink > 1) || !st.isFile()) {
        log.warn({ file }, 'refusing to write result file over a link or non-regular file');
        return;
      }
    } catch {
      // does not exist yet
    }
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o640);
    try {
      fs.writeSync(fd, JSON.stringify(data, null, 2));
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    log.warn({ file, code: (e as NodeJS.ErrnoException).code }, 'failed to write result file');
  }
}
