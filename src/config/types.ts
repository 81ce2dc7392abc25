/**
 * The agent's configuration after loading, defaulting and validation (spec 01 §2).
 * YAML and `ATTUNE__SECTION__KEY` use upstream's snake_case keys; this type uses camelCase.
 * Every field is filled (defaults applied); the object is frozen by `loadConfig`.
 */

import type { ResolvedLogLevel } from './log-filter';

export type Transport = 'volume' | 'api' | 'auto';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
export type WorkerType = 'local' | 'remote' | 'container';
export type RetentionPolicy = 'versions' | 'days' | 'hours' | 'minutes';

export interface DatabaseConfig {
  /** `database.url`, default `postgresql://postgres:postgres@localhost:5432/attune`. Secret-bearing (password). */
  readonly url: string;
  readonly maxConnections: number;
  readonly minConnections: number;
  /** Pool acquire timeout, seconds (upstream uses `connect_timeout` for this). */
  readonly connectTimeoutSec: number;
  readonly idleTimeoutSec: number;
  readonly logStatements: boolean;
  /** `database.schema`, default `attune`; alphanumeric/underscore, ≤ 63 chars. */
  readonly schema: string;
}

export interface MessageQueueConfig {
  /** `message_queue.url`, default `amqp://guest:guest@localhost:5672/%2f`. Secret-bearing. */
  readonly url: string;
  /** Kept for config compatibility; upstream's worker ignores these three (spec 02 §1.1). */
  readonly exchange: string;
  readonly enableDlq: boolean;
  readonly messageTtl: number;
}

export interface SecurityConfig {
  readonly jwtSecret: string | null;
  readonly encryptionKey: string | null;
  readonly enableAuth: boolean;
  readonly jwtAccessExpiration: number;
  readonly jwtRefreshExpiration: number;
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'no_schedule' | 'prefer_no_schedule';
}

export interface WorkerConfig {
  readonly name: string | null;
  readonly workerType: WorkerType | null;
  readonly runtimeId: number | null;
  readonly host: string | null;
  readonly port: number | null;
  /** Raw `worker.capabilities` map (its `runtimes` array is tier 2 of spec 01 §4.4). */
  readonly capabilities: Readonly<Record<string, unknown>> | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly maxConcurrentTasks: number;
  readonly heartbeatIntervalSec: number;
  readonly taskTimeoutSec: number;
  readonly maxStdoutBytes: number;
  readonly maxStderrBytes: number;
  readonly executionLogRetentionPolicy: RetentionPolicy;
  readonly executionLogRetentionLimit: number;
  readonly shutdownTimeoutSec: number;
  readonly streamLogs: boolean;
  /** Exact env var names passed to children on top of the baseline (spec 03 §3.1). */
  readonly passthroughEnv: readonly string[];
  /**
   * Our own keys (not upstream): `worker.run_as_user` / `worker.run_as_group` — user and group
   * (name or numeric id, as text) actions are spawned as when the agent runs as root, so an
   * action cannot read the agent's environment (/proc/<agent>/environ) or config. null = off.
   */
  readonly runAsUser: string | null;
  readonly runAsGroup: string | null;
}

/** Our own section (not upstream): start-up robustness and the optional health listener. */
export interface AgentSectionConfig {
  /** Port of the HTTP health/metrics listener; null = off (default). */
  readonly healthPort: number | null;
  readonly healthHost: string;
  /** How long start-up keeps retrying PostgreSQL / RabbitMQ before giving up, seconds (default 60). */
  readonly startupTimeoutSec: number;
  /** How long to wait for the Attune schema to appear, seconds (default 300). */
  readonly schemaWaitTimeoutSec: number;
}

/** `artifacts.*` keys of both artifact transports (spec 06 §2.6, §8). */
export interface ArtifactsConfig {
  /** `artifacts.log_segment_max_bytes` (default 1 048 576), written to `log_stream.max_unflushed_bytes`. */
  readonly logSegmentMaxBytes: number;
  /** `artifacts.log_segment_initial_bytes` (default 65 536): first segment size, doubled up to the max. */
  readonly logSegmentInitialBytes: number;
  /** `artifacts.log_segment_retry_*` (defaults 5, 10 000, 100, 2 000): segment commit retries. */
  readonly logSegmentRetryMaxAttempts: number;
  readonly logSegmentRetryAttemptTimeoutMs: number;
  readonly logSegmentRetryInitialBackoffMs: number;
  readonly logSegmentRetryMaxBackoffMs: number;
  /** `artifacts.flush_interval_ms` (default 500), written to `log_stream.max_unflushed_milliseconds`. */
  readonly flushIntervalMs: number;
  /** `artifacts.log_finalization_timeout_ms` (default 1000): post-exit drain and seal wait. */
  readonly logFinalizationTimeoutMs: number;
}

export interface Config {
  readonly serviceName: string;
  readonly environment: string;
  readonly packsBaseDir: string;
  readonly runtimeEnvsDir: string;
  readonly artifactsDir: string;
  readonly packsTransport: Transport;
  /** Our key `packs.cache_max_bytes` (issue 15): bound of the API transport's release cache. */
  readonly packsCacheMaxBytes: number;
  readonly artifactsTransport: Transport;
  readonly artifacts: ArtifactsConfig;
  readonly defaultExecutionTimeoutSec: number;
  readonly server: { readonly host: string; readonly port: number };
  readonly log: {
    /** `log.level` as configured (validated even when RUST_LOG overrides it, as upstream). */
    readonly level: LogLevel;
    /** The level the agent's logger uses: `--log-level` > RUST_LOG > log.level (spec 07 §4.1). */
    readonly filter: ResolvedLogLevel;
    readonly format: LogFormat;
    readonly mirrorRuntimeStdoutToStdio: boolean;
    readonly mirrorRuntimeStderrToStdio: boolean;
  };
  readonly database: DatabaseConfig;
  /** null when the `message_queue` section is absent (the agent then cannot serve; spec 01 §2.2). */
  readonly messageQueue: MessageQueueConfig | null;
  readonly security: SecurityConfig;
  /** Always filled: the agent synthesises the defaults when the section is absent (spec 01 §1.1 `--name`). */
  readonly worker: WorkerConfig;
  /** true when the file/env actually had a `worker` section (affects the transport rule, spec 01 §2.4). */
  readonly hasWorkerSection: boolean;
  readonly agent: AgentSectionConfig;
  /** Files that were read, in order (for the start-up log line). */
  readonly sources: readonly string[];
}

/** Keys whose values are never printed (config errors, logs). Dotted snake_case paths. */
export const SECRET_CONFIG_KEYS: readonly string[] = [
  'database.url',
  'database.password',
  'message_queue.url',
  'security.jwt_secret',
  'security.encryption_key',
  'agent.bootstrap_token',
];
