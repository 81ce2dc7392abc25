/**
 * Execution output where Attune looks for it (spec 06 §2–§4): the worker service opens one
 * `ExecutionLogSet` per execution before the run, hands its sinks to the engine, and settles it
 * after the run (seals, `logs_incomplete`, file artifacts). agent.ts builds it once.
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import type { ApiClient } from '../api';
import type { ExecutionOutcome, ExecutionRequest } from '../execution/types';
import { secretPathsFromSchema } from '../execution/redact';
import { getAtPointer } from '../secrets/json-pointer';
import { toError } from '../errors';
import { listUnsealedLogStreams } from '../db/queries/list-unsealed-log-streams';
import { listExecutionFileArtifacts, listExecutionsFileArtifacts, type ExecutionFileArtifact } from '../db/queries/list-execution-file-artifacts';
import { GroupCommit } from '../util/group-commit';
import { ExecutionLogs, type ExecutionLogSet } from './execution-logs';
import { finalizeFileArtifacts } from './file-artifacts';
import { createMirrorOutput } from './mirror';
import type { RetentionPolicyName } from './names';
import { LogSealer } from './sealer';
import { SegmentUploads } from './segment-streams';
import type { SegmentPolicy } from './segment-writer';
import { waitAtMost } from '../util/sleep';

export type { ExecutionLogSet } from './execution-logs';
export { LogSealer } from './sealer';
export { ARTIFACTS_SENTINEL, artifactsTransportProblems, resolveArtifactsTransport } from './transport-config';
export type { SegmentPolicy } from './segment-writer';

export interface ExecutionOutputOptions {
  db: Queryable;
  api: ApiClient;
  log: Logger;
  artifactsDir: string;
  retentionDefaults: { policy: RetentionPolicyName; limit: number };
  maxUnflushedBytes: number;
  maxUnflushedMs: number;
  sealWaitMs: number;
  /** Destinations of `log.mirror_runtime_stdout_to_stdio` / `_stderr_`; null = off. */
  mirrorStdout: Writable | null;
  mirrorStderr: Writable | null;
  worker: () => { id: number; name: string; instance: string };
  sealer?: LogSealer;
  /** Resolved `artifacts.transport` (spec 06 §1): `api` → `object_segments` streams and uploaded files. */
  transport: 'volume' | 'api';
  /** `artifacts.log_segment_*` / `flush_interval_ms` (used in `api` mode). */
  segmentPolicy: SegmentPolicy;
  /** Memory the uploads still going on after their runs may hold together. */
  backgroundUploadBudgetBytes: number;
}

export interface OpenOutputInput {
  request: ExecutionRequest;
  parentExecutionId: number | null;
  logRetentionPolicy: string | null;
  logRetentionLimit: number | null;
}

export class ExecutionOutput {
  private readonly logs: ExecutionLogs;
  readonly sealer: LogSealer;
  private readonly segments: SegmentUploads | null;
  private readonly fileWork = new Set<Promise<void>>();
  /** issue 18: one listing query for the executions that finish while one is in flight. */
  private readonly fileLists: GroupCommit<number, ExecutionFileArtifact[]>;

  constructor(private readonly opts: ExecutionOutputOptions) {
    this.sealer = opts.sealer ?? new LogSealer({ api: opts.api, log: opts.log });
    this.fileLists = new GroupCommit({
      maxBatch: 64,
      identity: (id) => id,
      batch: async (ids) => {
        const lists = await listExecutionsFileArtifacts(opts.db, ids);
        return ids.map((id) => lists.get(id) ?? []);
      },
      single: (id) => listExecutionFileArtifacts(opts.db, id),
    });
    this.segments = opts.transport === 'api' ? new SegmentUploads(opts.api, opts.segmentPolicy, this.sealer, opts.log, opts.backgroundUploadBudgetBytes) : null;
    const mirrorFailed = (stream: string) => (err: Error) => opts.log.warn({ stream, err: err.message }, 'Failed to mirror runtime log output');
    this.logs = new ExecutionLogs({
      db: opts.db,
      sealer: this.sealer,
      log: opts.log,
      artifactsDir: opts.artifactsDir,
      retentionDefaults: opts.retentionDefaults,
      maxUnflushedBytes: opts.maxUnflushedBytes,
      maxUnflushedMs: opts.maxUnflushedMs,
      sealWaitMs: opts.sealWaitMs,
      mirror: {
        stdout: opts.mirrorStdout ? createMirrorOutput(opts.mirrorStdout, mirrorFailed('stdout')) : null,
        stderr: opts.mirrorStderr ? createMirrorOutput(opts.mirrorStderr, mirrorFailed('stderr')) : null,
      },
      worker: opts.worker,
      segments: this.segments,
    });
  }

  /** Rows and files before the run; sets `request.logFiles` to the streams' absolute paths. */
  async open(input: OpenOutputInput, log: Logger): Promise<ExecutionLogSet> {
    const r = input.request;
    const set = await this.logs.open(
      {
        executionId: r.executionId,
        actionRef: r.actionRef,
        packRef: r.packRef,
        parentExecutionId: input.parentExecutionId,
        traceTag: r.context.traceTag ?? null,
        logRetentionPolicy: input.logRetentionPolicy,
        logRetentionLimit: input.logRetentionLimit,
        secretValues: r.secretParameterPaths.map((p) => getAtPointer(r.parameters, p)).filter((v) => v !== undefined),
        secretOutputPaths: secretPathsFromSchema(r.outSchema),
        outputFormat: r.outputFormat,
        maxStdoutBytes: r.maxStdoutBytes,
        maxStderrBytes: r.maxStderrBytes,
      },
      log,
    );
    r.logFiles = set.paths;
    return set;
  }

  /** After the run: seal (bounded wait), `logs_incomplete`, file artifacts. Never throws. */
  async settle(set: ExecutionLogSet, outcome: ExecutionOutcome, log: Logger): Promise<void> {
    try {
      const cutShort = outcome.status === 'timeout' || outcome.status === 'cancelled' || outcome.result.logs_incomplete === true;
      const incomplete = await set.finish(outcome.phase === 'ran', cutShort);
      if (incomplete && outcome.phase === 'ran') outcome.result.logs_incomplete = true;
    } catch (e) {
      log.warn({ err: toError(e) }, 'finalising the log streams failed');
      if (outcome.phase === 'ran') outcome.result.logs_incomplete = true;
    }
  }

  /**
   * spec 06 §3.2: after a run or a runtime error, not after preparation failures. Upstream
   * holds the terminal status for as long as the uploads take (300 s per request when the API
   * hangs); here the run waits at most `sealWaitMs`, the rest finishes in the background.
   */
  async finalizeFiles(executionId: number, outcome: ExecutionOutcome, log: Logger): Promise<void> {
    if (outcome.phase === 'prepare') return;
    const work = finalizeFileArtifacts(this.opts.db, this.opts.api, this.opts.artifactsDir, executionId, log, this.opts.transport, (id) => this.fileLists.run(id));
    this.fileWork.add(work);
    void work.finally(() => this.fileWork.delete(work));
    await waitAtMost(work, this.opts.sealWaitMs);
  }

  /**
   * An execution a previous agent process left `running` (now abandoned): its files hold what
   * was printed until the crash; seal them, flagged truncated since the end is missing.
   */
  async sealLeftovers(executionId: number, log: Logger): Promise<void> {
    try {
      const ids = await listUnsealedLogStreams(this.opts.db, executionId);
      await Promise.all(ids.map((id) => this.sealer.seal(id, true, this.opts.sealWaitMs)));
    } catch (e) {
      log.warn({ err: toError(e) }, 'could not seal the log streams of the abandoned execution');
    }
  }

  /** Shutdown: last segment uploads and seal attempts, bounded. */
  async stop(timeoutMs: number): Promise<void> {
    const started = Date.now();
    await this.segments?.stop(timeoutMs / 2);
    if (this.fileWork.size > 0) {
      await waitAtMost(Promise.allSettled([...this.fileWork]), timeoutMs / 4);
    }
    await this.sealer.stop(Math.max(0, timeoutMs - (Date.now() - started)));
  }
}
