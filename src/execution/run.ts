/**
 * Spawning and supervising one action process (spec 03 §1.6, §4.1, §4.3, §6.2):
 * own process group, parameters on stdin, bounded concurrent capture, deadline and cancel with
 * SIGTERM → grace → SIGKILL of the whole group, post-exit drain bound.
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log';
import type { EnvMap } from './child-env';
import { describeIoError, runtimeError } from './failures';
import { describeKill } from './kill-reason';
import type { OutputSinks } from './log-sink';
import { exitErrorText, parseOutput, type CollectedOutput, type StreamName } from './output';
import { StreamCapture, writeParameters } from './pipes';
import type { OomWatch, ProcessSpawner, SpawnInfo } from './ports';
import { SinkRelay } from './sink-relay';
import type { OutputFormat } from './types';

export interface ProcessSpec {
  command: string;
  args: readonly string[];
  env: EnvMap;
  /** undefined → inherit the agent's cwd (native actions, missing pack dir). */
  cwd: string | undefined;
  /** Parameter document for stdin (a `\n` is appended); null → stdin closed at once. */
  stdinContent: string | null;
  timeoutSec: number;
  maxStdoutBytes: number;
  maxStderrBytes: number;
  outputFormat: OutputFormat;
  /** Spawn as this user/group (`ExecutionRequest.runAs`); absent → the agent's own. */
  uid?: number;
  gid?: number;
}

export interface RunOptions {
  log: Logger;
  spawner?: ProcessSpawner;
  oom?: OomWatch | null;
  signal?: AbortSignal;
  killGraceMs: number;
  logFinalizationTimeoutMs: number;
  onSpawn?: (info: SpawnInfo) => void;
  onOutput?: (stream: StreamName, chunk: Buffer) => void;
  /** May still be being set up: output is held until they exist (sink-relay.ts). */
  sinks?: OutputSinks | Promise<OutputSinks | null> | null;
}

/** Upstream's in-memory `ExecutionResult` (spec 03 §4.3). */
export interface ProcessRunResult {
  exitCode: number;
  /** Empty when output was parsed (spec 03 §4.2). */
  stdout: string;
  stderr: string;
  parsed: { value: unknown } | null;
  durationMs: number;
  error: string | null;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  stdoutBytesTruncated: number;
  stderrBytesTruncated: number;
  timedOut: boolean;
  logsIncomplete: boolean;
}

const ETXTBSY_RETRY_ATTEMPTS = 5;
const ETXTBSY_RETRY_DELAY_MS = 25;
/** setTimeout's ceiling; longer deadlines re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function spawnOnce(spawner: ProcessSpawner, spec: ProcessSpec): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawner(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env,
        shell: false,
        // spec 03 §1.6: own process group (setsid), so the group can be signalled as a whole.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
        // worker.run_as_user: setgid/setuid in the child (libuv also drops root's supplementary groups).
        ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
        ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      });
    } catch (e) {
      reject(e);
      return;
    }
    const exited = new Promise<ExitInfo>((res) => child.once('exit', (code, signal) => res({ code, signal })));
    const onError = (e: Error): void => {
      child.off('spawn', onSpawn);
      reject(e);
    };
    const onSpawn = (): void => {
      child.off('error', onError);
      // Later errors (e.g. a failed kill) must not crash the agent.
      child.on('error', () => undefined);
      resolve({ child, exited });
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
}

/** spec 03 §1.6: ETXTBSY (freshly written executable) is retried 5 × 25 ms. */
async function spawnWithRetry(spawner: ProcessSpawner, spec: ProcessSpec): Promise<Spawned> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await spawnOnce(spawner, spec);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ETXTBSY' && attempt + 1 < ETXTBSY_RETRY_ATTEMPTS) {
        await delay(ETXTBSY_RETRY_DELAY_MS);
        continue;
      }
      throw runtimeError.io(e);
    }
  }
}

/** `kill(-pgid)`, falling back to the pid unless the group is already gone (spec 03 §6.2). */
function signalGroup(pid: number, signal: NodeJS.Signals, log: Logger): void {
  try {
    process.kill(-pid, signal);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return;
    log.warn({ pid, signal, code }, 'signalling the process group failed; signalling the process');
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Signal the group of an action whose leader has exited (and been reaped): group only, never the
 * pid, which may belong to another process by now. The group id stays reserved while any member
 * lives, so it cannot name someone else's group. True when the group still had members.
 */
function signalLeftovers(pgid: number, signal: NodeJS.Signals): boolean {
  // Nearly every action leaves nothing, so this throws ESRCH once per execution; the error is
  // dropped, so it is built without a stack trace (issue 18: ~7 µs of the ~9 µs call).
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left; EPERM: members changed uid (cannot be stopped by us)
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

type Interrupt = 'cancel' | 'timeout';

/** Resolves with the interrupt kind when the deadline passes or the signal aborts. */
function watchInterrupts(deadline: number, signal: AbortSignal | undefined): { promise: Promise<Interrupt>; dispose: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<Interrupt>((resolve) => {
    const arm = (): void => {
      const left = deadline - performance.now();
      if (left <= 0) resolve('timeout');
      else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
    if (signal) {
      if (signal.aborted) resolve('cancel');
      onAbort = () => resolve('cancel');
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  return {
    promise,
    dispose: () => {
      if (timer) clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}

type Raced<T> = { kind: 'done'; value: T } | { kind: 'interrupt'; interrupt: Interrupt };

function race<T>(work: Promise<T>, interrupt: Promise<Interrupt>): Promise<Raced<T>> {
  return Promise.race([
    work.then((value) => ({ kind: 'done' as const, value })),
    interrupt.then((i) => ({ kind: 'interrupt' as const, interrupt: i })),
  ]);
}

/**
 * Run the process to completion. Throws `RuntimeFailure` only for spawn failures and log seal
 * failures; everything the action does is a result.
 */
export async function runProcess(spec: ProcessSpec, opts: RunOptions): Promise<ProcessRunResult> {
  const { log } = opts;
  const start = performance.now();
  // spec 03 §6.1: fixed just before spawn; covers stdin, wait and drain.
  const deadline = start + spec.timeoutSec * 1000;
  const oomKillsBefore = opts.oom?.killCount() ?? null;
  const { child, exited } = await spawnWithRetry(opts.spawner ?? nodeSpawn, spec);
  const pid = child.pid as number;
  opts.onSpawn?.({ pid, argv: [spec.command, ...spec.args] });

  const relay = new SinkRelay(opts.sinks);
  let onOutputFailed = false;
  const forward = (name: StreamName) => (chunk: Buffer, isNotice: boolean) => {
    relay.write(name, chunk, isNotice);
    if (!opts.onOutput || onOutputFailed) return;
    try {
      opts.onOutput(name, chunk);
    } catch (e) {
      // A faulty listener must not crash the agent from inside a stream event.
      onOutputFailed = true;
      log.warn({ stream: name, err: (e as Error).message }, 'output listener failed; live output forwarding stopped');
    }
  };
  // Readers start before stdin is written, so a child that writes first cannot deadlock.
  const stdoutCap = new StreamCapture(child.stdout as Readable, 'stdout', spec.maxStdoutBytes, forward('stdout'));
  const stderrCap = new StreamCapture(child.stderr as Readable, 'stderr', spec.maxStderrBytes, forward('stderr'));
  const stdin = child.stdin as Writable;
  stdin.on('error', () => undefined); // reported through the write callbacks

  const watcher = watchInterrupts(deadline, opts.signal);
  let exitInfo: ExitInfo;
  let stdinError: string | null = null;
  let wasCancelled = false;
  let wasTimedOut = false;
  let logsIncomplete = false;

  const terminate = async (reason: Interrupt): Promise<ExitInfo> => {
    // spec 03 §6.2: stop capture first, TERM the group, wait the grace, then always KILL.
    stdoutCap.stop();
    stderrCap.stop();
    stdin.destroy();
    log.info({ pid, reason }, 'terminating action process group');
    signalGroup(pid, 'SIGTERM', log);
    const graceful = await Promise.race([exited, delay(opts.killGraceMs).then(() => null)]);
    signalGroup(pid, 'SIGKILL', log);
    if (graceful === null) log.warn({ pid, killGraceMs: opts.killGraceMs }, 'action did not exit after SIGTERM; sent SIGKILL');
    return graceful ?? (await exited);
  };

  try {
    const stdinRace = await race(writeParameters(stdin, spec.stdinContent), watcher.promise);
    if (stdinRace.kind === 'interrupt') {
      wasCancelled = stdinRace.interrupt === 'cancel';
      wasTimedOut = stdinRace.interrupt === 'timeout';
      exitInfo = await terminate(stdinRace.interrupt);
    } else {
      stdinError = stdinRace.value;
      const waitRace = await race(exited, watcher.promise);
      if (waitRace.kind === 'interrupt') {
        wasCancelled = waitRace.interrupt === 'cancel';
        wasTimedOut = waitRace.interrupt === 'timeout';
        exitInfo = await terminate(waitRace.interrupt);
      } else {
        exitInfo = waitRace.value;
        // spec 03 §4.1: drain bounded by min(deadline, now + log_finalization_timeout_ms).
        const finalization = performance.now() + opts.logFinalizationTimeoutMs;
        const drainDeadline = Math.min(deadline, finalization);
        const drainWatch = watchInterrupts(drainDeadline, opts.signal);
        const drained = await race(Promise.all([stdoutCap.done, stderrCap.done]), drainWatch.promise);
        drainWatch.dispose();
        if (drained.kind === 'interrupt') {
          logsIncomplete = true;
          if (drained.interrupt === 'cancel') wasCancelled = true;
          else if (deadline <= drainDeadline) wasTimedOut = true;
          stdoutCap.stop();
          stderrCap.stop();
        }
        // The execution ends here: what the action left in its process group (`cmd &`,
        // `nohup cmd &`, a double fork) goes with it, as on a terminal hang-up. Not signalled at
        // exit, so the upstream drain above still sees late output (spec 03 §10 item 30); only
        // processes that left the group with `setsid` survive (README "Reliability").
        if (signalLeftovers(pid, 'SIGKILL')) log.info({ pid }, 'action exited leaving processes in its process group; killed them');
      }
    }
  } finally {
    watcher.dispose();
  }

  const sinks = await relay.ready;
  if (relay.setupFailed) log.error({ err: relay.setupFailed.message }, 'setting up the log copies of the output failed; the run has none');
  logsIncomplete ||= stdoutCap.incomplete || stderrCap.incomplete || !!sinks.stdout?.failed || !!sinks.stderr?.failed || relay.setupFailed !== null;
  await sealSinks(sinks, logsIncomplete);

  const durationMs = Math.floor(performance.now() - start);
  const out = stdoutCap.collector.result();
  const err = stderrCap.collector.result();
  // Exit by signal → -1 (Rust `status.code().unwrap_or(-1)`).
  const exitCode = exitInfo.code ?? -1;
  const killedBy = wasCancelled || wasTimedOut || exitCode === 0 ? null : describeKill(exitInfo, oomKillsBefore, opts.oom ?? null);
  if (killedBy?.oom) log.warn({ pid, oomKillSource: opts.oom?.source }, 'action killed by the kernel OOM killer');
  return buildRunResult({ spec, out, err, exitCode, durationMs, stdinError, wasCancelled, wasTimedOut, logsIncomplete, killedBy: killedBy?.text ?? null });
}

async function sealSinks(sinks: OutputSinks, logsIncomplete: boolean): Promise<void> {
  for (const [name, sink] of [['stdout', sinks.stdout], ['stderr', sinks.stderr]] as const) {
    if (!sink) continue;
    if (logsIncomplete) {
      await sink.abandon();
      continue;
    }
    try {
      await sink.seal();
    } catch (e) {
      throw runtimeError.executionFailed(`Failed to seal ${name} log: ${describeIoError(e)}`);
    }
  }
}

interface BuildInput {
  spec: ProcessSpec;
  out: CollectedOutput;
  err: CollectedOutput;
  exitCode: number;
  durationMs: number;
  stdinError: string | null;
  wasCancelled: boolean;
  wasTimedOut: boolean;
  logsIncomplete: boolean;
  /** describeKill's text: replaces the exit error text. */
  killedBy: string | null;
}

function buildRunResult(i: BuildInput): ProcessRunResult {
  const common = {
    stderr: i.err.content,
    durationMs: i.durationMs,
    stdoutTruncated: i.out.truncated,
    stderrTruncated: i.err.truncated,
    stdoutBytesTruncated: i.out.bytesTruncated,
    stderrBytesTruncated: i.err.bytesTruncated,
    logsIncomplete: i.logsIncomplete,
  };
  if (i.wasTimedOut) {
    return {
      ...common,
      exitCode: -1,
      stdout: i.out.content,
      parsed: null,
      error: `Execution timed out after ${i.spec.timeoutSec} seconds`,
      timedOut: true,
    };
  }
  if (i.wasCancelled) {
    return { ...common, exitCode: i.exitCode, stdout: i.out.content, parsed: null, error: 'Execution cancelled by user', timedOut: false };
  }
  const parsed = i.exitCode === 0 ? parseOutput(i.out.content, i.spec.outputFormat) : null;
  let error: string | null = null;
  if (i.stdinError !== null) {
    // spec 03 §2.2: a broken pipe is ignored for a run that exited 0 in under 500 ms.
    const brokenPipe = i.stdinError.includes('Broken pipe') || i.stdinError.includes('os error 32');
    if (!(brokenPipe && i.durationMs < 500 && i.exitCode === 0)) error = i.stdinError;
  } else if (i.killedBy !== null) {
    error = i.killedBy;
  } else if (i.exitCode !== 0) {
    error = exitErrorText(i.exitCode, i.err.content);
  }
  return {
    ...common,
    exitCode: i.exitCode,
    // Parsed output replaces stdout to avoid duplication (spec 03 §4.2).
    stdout: parsed ? '' : i.out.content,
    parsed,
    error,
    timedOut: false,
  };
}
