/**
 * One execution's stdout/stderr log streams (spec 06 §2): rows created in one statement before
 * the action starts, sinks handed to the engine (`shared_file` on the artifacts volume, or
 * `object_segments` uploaded through the API, segment-streams.ts), and after the run one seal
 * per stream through the API. Nothing here can fail the execution: a problem costs
 * `result.logs_incomplete`, one clear log line, and never a wrong status.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import type { CreatedLogStream, LogStreamName } from '../db/queries/create-execution-log-streams';
import { deleteArtifactVersions } from '../db/queries/delete-artifact-versions';
import { describeIoError } from '../execution/failures';
import { toError } from '../errors';
import { RuntimeLogMirror, type MirrorOutput, type MirrorSource } from './mirror';
import { artifactRefProblem, effectiveRetention, logArtifactDescription, logArtifactName, logArtifactRef, type RetentionPolicyName } from './names';
import type { LogSealer } from './sealer';
import { createSharedLogFile, SharedFileTarget } from './shared-file-sink';
import { RecordingTarget, type SegmentUploads } from './segment-streams';
import type { SegmentedLogWriter } from './segment-writer';
import { LogStreamSink, type ByteTarget } from './stream-sink';
import { createStreamRedactor, secretNeedles } from './stream-redactor';
import { decideDelayedMirror } from './delayed-mirror';
import { LogStreamAllocations } from './log-stream-allocations';

const STREAMS: readonly LogStreamName[] = ['stdout', 'stderr'];

export interface ExecutionLogsOptions {
  db: Queryable;
  sealer: LogSealer;
  log: Logger;
  artifactsDir: string;
  retentionDefaults: { policy: RetentionPolicyName; limit: number };
  /** `artifacts.log_segment_max_bytes` / `artifacts.flush_interval_ms`, written to `log_stream` (spec 06 §2.4). */
  maxUnflushedBytes: number;
  maxUnflushedMs: number;
  /** How long the run waits for its seals (`artifacts.log_finalization_timeout_ms`). */
  sealWaitMs: number;
  /** Enabled mirrors (`log.mirror_runtime_*_to_stdio`), null = off. */
  mirror: { stdout: MirrorOutput | null; stderr: MirrorOutput | null };
  /** `object_segments` uploads (artifacts transport `api`); null → `shared_file` (volume). */
  segments: SegmentUploads | null;
  /** Worker identity for mirror records; read when an execution starts. */
  worker: () => { id: number; name: string; instance: string };
}

export interface ExecutionLogsRequest {
  executionId: number;
  actionRef: string;
  packRef: string;
  parentExecutionId: number | null;
  traceTag: string | null;
  logRetentionPolicy: string | null;
  logRetentionLimit: number | null;
  /** Restored values of secret parameters: replaced by `[REDACTED]` in files and mirror. */
  secretValues: readonly unknown[];
  /** `secret: true` paths of the out_schema: no live mirror, the delayed redacted one instead (spec 06 §4.4). */
  secretOutputPaths: readonly string[];
  outputFormat: string | null;
  maxStdoutBytes: number;
  maxStderrBytes: number;
}

export interface ExecutionLogSet {
  /** Sinks for the engine (null when that stream could not be set up). */
  readonly sinks: Sinks;
  /** Absolute paths (`result.stderr_log`, spec 06 §2.9), null when not set up. */
  readonly paths: { stdoutPath: string | null; stderrPath: string | null };
  readonly streams: readonly CreatedLogStream[];
  /**
   * Closes the files and seals; `ran` = a process ran (upstream seals nothing otherwise),
   * `captureIncomplete` = the run was cut short (timeout, cancel, undrained pipes). True when
   * the logs are incomplete.
   */
  finish(ran: boolean, captureIncomplete?: boolean): Promise<boolean>;
}

type Sinks = { stdout: LogStreamSink | null; stderr: LogStreamSink | null };

const canonicalDirs = new Map<string, string>();

/** spec 06 §2.9: the canonicalised `artifacts_dir` (cached: realpath once per process). */
function canonicalArtifactsDir(dir: string): string {
  let c = canonicalDirs.get(dir);
  if (c === undefined) {
    try {
      c = fs.realpathSync(dir);
    } catch {
      c = path.resolve(dir);
    }
    canonicalDirs.set(dir, c);
  }
  return c;
}

export class ExecutionLogs {
  private readonly allocations: LogStreamAllocations;

  constructor(private readonly opts: ExecutionLogsOptions) {
    this.allocations = new LogStreamAllocations(opts.db);
  }

  async open(req: ExecutionLogsRequest, log: Logger): Promise<ExecutionLogSet> {
    const problem = artifactRefProblem(logArtifactRef(req.actionRef, 'stdout'));
    if (problem !== null) {
      log.warn({ problem }, 'the action ref cannot name a log artifact; running without log streams');
      return emptySet();
    }
    const { policy, limit } = effectiveRetention(req, this.opts.retentionDefaults);
    let streams: CreatedLogStream[];
    try {
      // issue 18: this agent's concurrent executions of one action are allocated together
      // (one statement for all that arrive while one is in flight; log-stream-allocations.ts).
      streams = await this.allocations.allocate(
        {
          actionRef: req.actionRef,
          retentionPolicy: policy,
          retentionLimit: limit,
          backend: this.opts.segments ? 'object_segments' : 'shared_file',
          maxUnflushedBytes: this.opts.maxUnflushedBytes,
          maxUnflushedMs: this.opts.maxUnflushedMs,
        },
        req.executionId,
        STREAMS.map((s) => ({
          stream: s,
          ref: logArtifactRef(req.actionRef, s),
          name: logArtifactName(req.actionRef, s),
          description: logArtifactDescription(req.actionRef, s, policy, limit),
        })),
      );
    } catch (e) {
      log.warn({ err: toError(e) }, 'could not create the log stream rows; running without log streams');
      return emptySet();
    }
    const root = canonicalArtifactsDir(this.opts.artifactsDir);
    // spec 06 §2.6: no local file for an `object_segments` stream.
    if (this.opts.segments) return this.buildSet(req, streams, this.segmentTargets(req, streams), root, log);
    const fds: number[] = [];
    try {
      for (const s of streams) fds.push(createSharedLogFile(path.join(root, s.filePath)));
    } catch (e) {
      fds.forEach((fd, i) => {
        fs.closeSync(fd);
        fs.rmSync(path.join(root, (streams[i] as CreatedLogStream).filePath), { force: true });
      });
      const cause = rootCause(e, root);
      log.error(
        { artifactsDir: this.opts.artifactsDir, code: (cause as NodeJS.ErrnoException).code, error: describeIoError(cause) },
        'cannot create log stream files in artifacts_dir (volume full, read-only or missing?); running without log streams',
      );
      // Leave no pending version behind that nobody will ever seal.
      await deleteArtifactVersions(this.opts.db, streams.map((s) => s.artifactVersionId)).catch((err: unknown) =>
        log.warn({ err: toError(err) }, 'could not remove the log stream rows of the failed set-up'),
      );
      return emptySet(true);
    }
    return this.buildSet(req, streams, fds.map((fd) => new SharedFileTarget(fd)), root, log);
  }

  private segmentTargets(req: ExecutionLogsRequest, streams: CreatedLogStream[]): ByteTarget[] {
    const uploads = this.opts.segments as SegmentUploads;
    const delayed = req.secretOutputPaths.length > 0 && (this.opts.mirror.stdout !== null || this.opts.mirror.stderr !== null);
    return streams.map((s) => {
      const w = uploads.writer(s.artifactVersionId);
      return delayed ? new RecordingTarget(w, s.stream === 'stdout' ? req.maxStdoutBytes : req.maxStderrBytes) : w;
    });
  }

  private buildSet(req: ExecutionLogsRequest, streams: CreatedLogStream[], targets: ByteTarget[], root: string, log: Logger): ExecutionLogSet {
    const needles = secretNeedles(req.secretValues);
    const w = this.opts.worker();
    const source: MirrorSource = {
      executionId: req.executionId,
      parentExecutionId: req.parentExecutionId,
      actionRef: req.actionRef,
      packRef: req.packRef,
      traceTag: req.traceTag,
      workerId: w.id,
      workerName: w.name,
      workerInstance: w.instance,
    };
    const sinks: Sinks = { stdout: null, stderr: null };
    const paths: { stdoutPath: string | null; stderrPath: string | null } = { stdoutPath: null, stderrPath: null };
    streams.forEach((s, i) => {
      const out = req.secretOutputPaths.length === 0 ? this.opts.mirror[s.stream] : null;
      const max = s.stream === 'stdout' ? req.maxStdoutBytes : req.maxStderrBytes;
      sinks[s.stream] = new LogStreamSink({
        target: targets[i] as ByteTarget,
        redactor: needles.length > 0 ? createStreamRedactor(needles) : null,
        mirror: out ? new RuntimeLogMirror(source, s.stream, out, max) : null,
      });
      paths[s.stream === 'stdout' ? 'stdoutPath' : 'stderrPath'] = path.join(root, s.filePath);
    });
    const finish = async (ran: boolean, captureIncomplete = false): Promise<boolean> => {
      await Promise.all([sinks.stdout?.seal(), sinks.stderr?.seal()]);
      // spec 06 §9 item 6: nothing ran → no seal request, the versions stay pending (as upstream).
      if (!ran) {
        for (const sink of [sinks.stdout, sinks.stderr]) writerOf(sink)?.abort('no process ran');
        return false;
      }
      if (req.secretOutputPaths.length > 0) this.delayedMirror(req, source, sinks, paths, captureIncomplete, log);
      if (this.opts.segments) return this.finishSegments(req.executionId, streams, sinks);
      const failed = streams.filter((s) => sinks[s.stream]?.failed);
      if (failed.length > 0) {
        log.error(
          { streams: failed.map((s) => s.stream), files: failed.map((s) => s.filePath), error: describeIoError(sinks[(failed[0] as CreatedLogStream).stream]?.failure) },
          'writing the log stream file failed (artifacts volume full?); the stream is sealed as truncated',
        );
      }
      const results = await Promise.all(
        streams.map(async (s) => {
          const sink = sinks[s.stream] as LogStreamSink;
          const sealed = await this.opts.sealer.seal(s.artifactVersionId, sink.truncated || sink.failed, this.opts.sealWaitMs);
          return sealed && !sink.failed;
        }),
      );
      return results.some((ok) => !ok);
    };
    return { sinks, paths, streams, finish };
  }

  /** spec 06 §4.4 steps 1–8, from the (parameter-redacted) files just closed. */
  private delayedMirror(
    req: ExecutionLogsRequest,
    source: MirrorSource,
    sinks: Sinks,
    paths: { stdoutPath: string | null; stderrPath: string | null },
    captureIncomplete: boolean,
    log: Logger,
  ): void {
    const { stdout: outMirror, stderr: errMirror } = this.opts.mirror;
    if (!outMirror && !errMirror) return;
    const read = (p: string | null, sink: LogStreamSink | null): string => {
      if (sink?.target instanceof RecordingTarget) return sink.target.text();
      try {
        return p ? fs.readFileSync(p, 'utf8') : '';
      } catch {
        return '';
      }
    };
    const decision = decideDelayedMirror({
      outputFormat: req.outputFormat,
      secretPaths: req.secretOutputPaths,
      logsIncomplete: captureIncomplete || !!sinks.stdout?.failed || !!sinks.stderr?.failed,
      truncated: !!sinks.stdout?.truncated || !!sinks.stderr?.truncated,
      stdout: read(paths.stdoutPath, sinks.stdout),
      stderr: read(paths.stderrPath, sinks.stderr),
    });
    if (decision.kind === 'suppressed') {
      log.warn({ reason: decision.reason }, 'runtime log mirror suppressed for an action with secret outputs');
      return;
    }
    for (const [stream, out, text] of [['stdout', outMirror, decision.stdout], ['stderr', errMirror, decision.stderr]] as const) {
      if (!out || text === '') continue;
      const m = new RuntimeLogMirror(source, stream, out, null);
      m.write(Buffer.from(text, 'utf8'));
      m.end();
    }
  }

  /** spec 06 §2.6–§2.7: last segments and seals, bounded; true when the logs are incomplete. */
  private async finishSegments(executionId: number, streams: readonly CreatedLogStream[], sinks: Sinks): Promise<boolean> {
    const uploads = this.opts.segments as SegmentUploads;
    const results = await Promise.all(
      streams.map((s) => {
        const sink = sinks[s.stream] as LogStreamSink;
        return uploads.finish(writerOf(sink) as SegmentedLogWriter, s.artifactVersionId, sink.truncated, this.opts.sealWaitMs);
      }),
    );
    uploads.reportIncomplete(
      streams.flatMap((s) => {
        const w = writerOf(sinks[s.stream]) as SegmentedLogWriter;
        return w.failure || w.overflowed ? [{ executionId, stream: s.stream, droppedBytes: w.droppedBytes, error: w.failure?.message ?? null }] : [];
      }),
      this.opts.maxUnflushedBytes,
    );
    return results.some((ok) => !ok);
  }
}

function writerOf(sink: LogStreamSink | null): SegmentedLogWriter | null {
  if (!sink) return null;
  const t = sink.target instanceof RecordingTarget ? sink.target.inner : sink.target;
  return 'drained' in t ? (t as SegmentedLogWriter) : null;
}

/**
 * mkdir of a missing sub-directory on a read-only volume reports ENOENT (the kernel checks the
 * path before the mount flags); ask the root itself so the operator reads EROFS / EACCES.
 */
function rootCause(e: unknown, root: string): unknown {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return e;
  try {
    fs.accessSync(root, fs.constants.W_OK);
    return e;
  } catch (probe) {
    return probe;
  }

}

function emptySet(incomplete = true): ExecutionLogSet {
  return { sinks: { stdout: null, stderr: null }, paths: { stdoutPath: null, stderrPath: null }, streams: [], finish: async (ran) => ran && incomplete };
}
