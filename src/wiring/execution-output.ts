/**
 * The log streams and file artifacts of executions (src/logs) wired to PostgreSQL and the Attune
 * API. spec 06 §1: even in volume mode the worker seals streams through the API with its own token.
 */
import type { Config } from '../config/types';
import type { Queryable } from '../db/rows';
import type { Logger } from '../log';
import { ExecutionOutput } from '../logs';
import { maskUrl } from '../util/redact';
import type { ApiAccess } from './api-access';

export function createExecutionOutput(config: Config, db: Queryable, worker: { id: number; name: string }, api: ApiAccess, log: Logger): ExecutionOutput {
  log.info(
    { apiBaseUrl: maskUrl(api.client.baseUrl), mirrorStdout: config.log.mirrorRuntimeStdoutToStdio, mirrorStderr: config.log.mirrorRuntimeStderrToStdio },
    'log streams: shared_file on artifacts_dir, sealed through the Attune API',
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
  });
}
