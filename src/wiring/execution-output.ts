/**
 * The log streams and file artifacts of executions (src/logs) wired to PostgreSQL and the Attune
 * API. spec 06 §1: even in volume mode the worker seals streams through the API with its own token;
 * with `artifacts.transport` `api` the bytes go there too (segments, file uploads).
 */
import type { Config } from '../config/types';
import type { Queryable } from '../db/rows';
import type { Logger } from '../log';
import { ExecutionOutput } from '../logs';
import { maskUrl } from '../util/redact';
import type { ApiAccess } from './api-access';

export function createExecutionOutput(
  config: Config,
  db: Queryable,
  worker: { id: number; name: string },
  api: ApiAccess,
  log: Logger,
  transport: 'volume' | 'api',
): ExecutionOutput {
  const a = config.artifacts;
  log.info(
    {
      artifactsTransport: transport,
      apiBaseUrl: maskUrl(api.client.baseUrl),
      mirrorStdout: config.log.mirrorRuntimeStdoutToStdio,
      mirrorStderr: config.log.mirrorRuntimeStderrToStdio,
      ...(transport === 'api' ? { segmentInitialBytes: a.logSegmentInitialBytes, segmentMaxBytes: a.logSegmentMaxBytes, flushIntervalMs: a.flushIntervalMs } : {}),
    },
    transport === 'api'
      ? 'log streams: object_segments uploaded through the Attune API, file artifacts uploaded then published'
      : 'log streams: shared_file on artifacts_dir, sealed through the Attune API',
  );
  return new ExecutionOutput({
    db,
    api: api.client,
    log: log.child({ component: 'logs' }),
    artifactsDir: config.artifactsDir,
    retentionDefaults: { policy: config.worker.executionLogRetentionPolicy, limit: config.worker.executionLogRetentionLimit },
    maxUnflushedBytes: config.artifacts.logSegmentMaxBytes,
    maxUnflushedMs: config.artifacts.flushIntervalMs,
    sealWaitMs: config.artifacts.logFinalizationTimeoutMs,
    mirrorStdout: config.log.mirrorRuntimeStdoutToStdio ? process.stdout : null,
    mirrorStderr: config.log.mirrorRuntimeStderrToStdio ? process.stderr : null,
    worker: () => ({ ...worker, instance: api.tokens.instanceId }),
    transport,
    // Half of the chart's `4 × max_concurrent_tasks × logSegmentMaxBytes` pod sizing on top of the running streams.
    backgroundUploadBudgetBytes: config.worker.maxConcurrentTasks * a.logSegmentMaxBytes * 2,
    segmentPolicy: {
      initialBytes: a.logSegmentInitialBytes,
      maxBytes: a.logSegmentMaxBytes,
      flushIntervalMs: a.flushIntervalMs,
      retryMaxAttempts: a.logSegmentRetryMaxAttempts,
      attemptTimeoutMs: a.logSegmentRetryAttemptTimeoutMs,
      initialBackoffMs: a.logSegmentRetryInitialBackoffMs,
      maxBackoffMs: a.logSegmentRetryMaxBackoffMs,
    },
  });
}
